// Example plugin: a custom verb (INFO by default) that answers, over TCP and REST, with figures from the running server.
export const name = 'custom-verb';

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    verb: { type: 'string', pattern: '^[A-Z]+$', default: 'INFO' },
    motd: { type: 'string', maxLength: 200, default: '' },
  },
};

export function register(api) {
  const { verb, motd } = api.config;
  api.server.setRequestHandler(verb, () => {
    const stats = api.server.getRuntimeStatistics();
    // Figures any client may see: nothing about other clients, no addresses, no identifiers.
    return {
      success: true,
      message: 'OK',
      data: { motd, uptime: stats.uptime, available: stats.availableContainers, running_sandboxes: stats.sessions },
    };
  });
  api.logger.info(`answers the ${verb} verb`);
}

// `regen-rsa` and `regen-tls`: new server key material at the configured paths.
import { Option, type Command } from 'commander';
import { RsaKeyPair } from '../../crypto/rsa-key-pair.js';
import { generateSelfSignedCertificate, saveTlsMaterial } from '../../crypto/tls.js';
import { RSA_KEY_SIZES } from '../../daemon/config/config-schema.js';
import { describeCommand, readConfig, runCommand, type CommandRegistrar, type CommonOptions } from '../command-kit.js';

const RESTART_NOTE = 'a running daemon keeps its current key until `anweddol-server restart`';

export const registerRegenRsa: CommandRegistrar = (program: Command, ctx) => {
  const command = describeCommand(program.command('regen-rsa').summary('generate a new RSA key pair'), {
    description: [
      'Generates a new server RSA key pair (server.rsa_key_size bits, or -b SIZE) and writes it to',
      'server.public_rsa_key_file_path / server.private_rsa_key_file_path (private key mode 0600).',
      'Prints the SHA-256 fingerprint of the public key (DER SubjectPublicKeyInfo) for clients to pin.',
      '-b SIZE is in bits, as in Anweddol 4.x: its help says bytes, but it passes SIZE to a key',
      'generator that counts bits (its default, 4096, is 4096 bits).',
    ].join('\n'),
    examples: ['anweddol-server regen-rsa', 'anweddol-server regen-rsa -b 3072', 'anweddol-server regen-rsa --json --config ./anweddol.conf.yaml'],
  });
  command.addOption(
    new Option('-b, --key-size <bits>', 'key size in bits (default: server.rsa_key_size)').choices(RSA_KEY_SIZES.map(String)),
  );
  runCommand<CommonOptions & { keySize?: string }>(command, async (options, output) => {
    const { config } = readConfig(options, ctx);
    const bits = options.keySize === undefined ? config.server.rsa_key_size : Number(options.keySize);
    output.progress(`generating a ${bits}-bit RSA key pair...`);
    const keyPair = await RsaKeyPair.generate(bits);
    await keyPair.save(config.server.public_rsa_key_file_path, config.server.private_rsa_key_file_path);
    return {
      message: 'New RSA key pair written',
      data: {
        fingerprint: keyPair.fingerprint,
        bits: keyPair.modulusBits,
        public_key_file_path: config.server.public_rsa_key_file_path,
        private_key_file_path: config.server.private_rsa_key_file_path,
      },
      lines: [
        `New RSA key pair written (${keyPair.modulusBits} bits)`,
        `  public key:  ${config.server.public_rsa_key_file_path}`,
        `  private key: ${config.server.private_rsa_key_file_path}`,
        `  SHA-256 fingerprint: ${keyPair.fingerprint}`,
        `Note: ${RESTART_NOTE}.`,
      ],
    };
  });
};

export const registerRegenTls: CommandRegistrar = (program: Command, ctx) => {
  const command = describeCommand(program.command('regen-tls').summary('generate a self-signed TLS certificate for REST'), {
    description: [
      'Generates a self-signed certificate and its private key (RSA 2048, valid 825 days, for',
      'localhost, 127.0.0.1 and ::1 plus --host names) at web_server.ssl_pem_certificate_file_path',
      'and web_server.ssl_pem_private_key_file_path (mode 0600), for web_server.enable_ssl.',
    ].join('\n'),
    examples: ['anweddol-server regen-tls', 'anweddol-server regen-tls --host sandbox.example.org --host 192.0.2.10'],
  });
  command.option('--host <name>', 'extra DNS name or IP address for the certificate (repeatable)', (v: string, acc: string[]) => [...acc, v], []);
  runCommand<CommonOptions & { host: string[] }>(command, async (options) => {
    const { config } = readConfig(options, ctx);
    const web = config.web_server;
    const material = await generateSelfSignedCertificate({ altNames: ['localhost', '127.0.0.1', '::1', ...options.host] });
    await saveTlsMaterial(material, web.ssl_pem_private_key_file_path, web.ssl_pem_certificate_file_path);
    return {
      message: 'New self-signed TLS certificate written',
      data: { fingerprint: material.fingerprint, certificate_file_path: web.ssl_pem_certificate_file_path, private_key_file_path: web.ssl_pem_private_key_file_path },
      lines: [
        'New self-signed TLS certificate written',
        `  certificate: ${web.ssl_pem_certificate_file_path}`,
        `  private key: ${web.ssl_pem_private_key_file_path}`,
        `  SHA-256 fingerprint: ${material.fingerprint}`,
        `Note: ${RESTART_NOTE}.`,
      ],
    };
  });
};

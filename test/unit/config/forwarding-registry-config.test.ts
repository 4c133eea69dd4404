// The keys of port forwarding (`port_forwarding.mode`, `max_connections`, `max_connections_per_source`) and of the swarm registry (`swarm.registry`).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../src/daemon/config/config-loader.js';
import { problemsOf } from '../../helpers/config-problems.js';

describe('port forwarding and registry configuration', () => {
  it('forwards only ports on other hosts, with 32 connections per forwarder, and has no registry by default', () => {
    const config = parseConfig('', {}, '/etc/anweddol');
    assert.equal(config.port_forwarding.mode, 'auto');
    assert.equal(config.port_forwarding.max_connections, 32);
    assert.equal(config.port_forwarding.max_connections_per_source, 8);
    assert.equal(config.swarm.registry, null);
  });

  it('accepts forwarder mode and a registry at host:port', () => {
    const config = parseConfig('port_forwarding:\n  mode: forwarder\nswarm:\n  registry: 10.240.0.1:5000\n', {}, '/etc/anweddol');
    assert.equal(config.port_forwarding.mode, 'forwarder');
    assert.equal(config.swarm.registry, '10.240.0.1:5000');
  });

  it('refuses an unknown forwarding mode, naming the key and the choices', () => {
    assert.match(problemsOf('port_forwarding:\n  mode: docker\n')[0]!, /^port_forwarding\.mode: .*auto or forwarder/);
  });

  it('refuses a forwarder connection cap below 1', () => {
    assert.match(problemsOf('port_forwarding:\n  max_connections: 0\n')[0]!, /^port_forwarding\.max_connections: /);
  });

  it('takes null for no cap per source, and refuses one below 1', () => {
    assert.equal(parseConfig('port_forwarding:\n  max_connections_per_source: null\n', {}, '/etc/anweddol').port_forwarding.max_connections_per_source, null);
    assert.match(problemsOf('port_forwarding:\n  max_connections_per_source: 0\n')[0]!, /^port_forwarding\.max_connections_per_source: /);
  });

  it('publishes swarm sandboxes in host mode by default, takes ingress, and refuses anything else', () => {
    assert.equal(parseConfig('', {}, '/etc/anweddol').swarm.publish, 'host');
    assert.equal(parseConfig('swarm:\n  publish: ingress\n', {}, '/etc/anweddol').swarm.publish, 'ingress');
    assert.match(problemsOf('swarm:\n  publish: mesh\n')[0]!, /^swarm\.publish: .*host or ingress/);
  });

  it('refuses a registry given as a URL rather than host:port', () => {
    assert.match(problemsOf('swarm:\n  registry: http://10.240.0.1:5000/\n')[0]!, /^swarm\.registry: .*host:port/);
  });
});

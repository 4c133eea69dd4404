import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { countSshSessions, processTable } from '../../../src/virtualization/ssh-sessions.js';

const TITLES = ['PID', 'PPID', 'UID', 'COMMAND'];
const LISTENER = ['25302', '25282', '0', 'sshd: /usr/sbin/sshd -D -e [listener] 1 of 10-100 startups'];

// Recorded from `docker top` on a sandbox (OpenSSH 9.2): one logged-in shell, one login with a wrong password in progress.
const RECORDED = {
  Titles: TITLES,
  Processes: [
    LISTENER,
    ['30446', '25302', '0', 'sshd: user_11111 [priv]'],
    ['30447', '25302', '0', 'sshd: user_11111 [priv]'],
    ['30449', '30447', '100', 'sshd: user_11111 [net]'],
    ['30454', '30446', '1000', 'sshd: user_11111@pts/0'],
    ['30455', '30454', '1000', '-bash'],
  ],
};

const count = (processes: string[][]) => countSshSessions(processTable({ Titles: TITLES, Processes: [LISTENER, ...processes] }));

describe('counting SSH sessions in a process table', () => {
  it('counts a logged-in shell and not a login still in progress', () => {
    assert.equal(countSshSessions(processTable(RECORDED)), 1);
  });

  it('counts a command session (notty) too', () => {
    assert.equal(count([['40', '1', '0', 'sshd: user_1 [priv]'], ['41', '40', '1000', 'sshd: user_1@notty']]), 1);
  });

  it('counts every open session', () => {
    assert.equal(count([['40', '1', '0', 'sshd: u [priv]'], ['41', '40', '1000', 'sshd: u@notty'], ['50', '1', '0', 'sshd: u [priv]'], ['51', '50', '1000', 'sshd: u@pts/1']]), 2);
  });

  it('counts nothing when only the listener runs', () => {
    assert.equal(count([]), 0);
  });

  it('ignores a session-like process the user started under their own uid', () => {
    // `exec -a "sshd: u@pts/9" sleep` under a fake monitor of the same uid.
    assert.equal(count([['60', '1', '1000', 'sshd: u [priv]'], ['61', '60', '1000', 'sshd: u@pts/9']]), 0);
  });

  it('ignores a session-like process whose parent is not sshd', () => {
    assert.equal(count([['70', '1', '0', 'bash'], ['71', '70', '1000', 'sshd: u@pts/9']]), 0);
  });

  it('ignores a session whose monitor belongs to another user name', () => {
    assert.equal(count([['80', '1', '0', 'sshd: a [priv]'], ['81', '80', '1000', 'sshd: b@notty']]), 0);
  });

  it('reads the titles of OpenSSH 9.8 and later (sshd-session)', () => {
    assert.equal(count([['90', '1', '0', 'sshd-session: u [priv]'], ['91', '90', '1000', 'sshd-session: u@notty']]), 1);
  });

  it('refuses a table without the columns it needs', () => {
    assert.throws(() => processTable({ Titles: ['PID', 'CMD'], Processes: [] }), /unexpected process table columns/);
  });
});

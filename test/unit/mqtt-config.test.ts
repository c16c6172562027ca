// MQTT topics (escaping any name into one level, and back) and the [mqtt] config section.
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/daemon-config.js';
import { UsageError } from '../../src/config/errors.js';
import { checkMqttUrl, checkTopicPrefix, resolveMqtt } from '../../src/config/mqtt-config.js';
import { argvWithoutPasswords } from '../../src/cli/program.js';
import { escapeTopicLevel, eventTopic, MAX_TOPIC_BYTES, statusTopic, TRUNCATED_LEVEL, unescapeTopicLevel, watchStateTopic } from '../../src/sinks/mqtt-topic.js';

const dir = mkdtempSync(join(tmpdir(), 'smbnotify-mqtt-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('topic levels', () => {
  it('escapes what would break the tree, keeps the rest readable', () => {
    expect(escapeTopicLevel('report 2026.pdf')).toBe('report 2026.pdf');
    expect(escapeTopicLevel('#1 + #2')).toBe('%231 %2B %232');
    expect(escapeTopicLevel('a/b')).toBe('a%2Fb');
    expect(escapeTopicLevel('a\u2215b')).toBe('a\u2215b');
    expect(escapeTopicLevel('nul\u0000here\n')).toBe('nul%00here%0A');
    expect(escapeTopicLevel('del\u007f csi\u009b')).toBe('del%7F csi%C2%9B');
    expect(escapeTopicLevel('50%')).toBe('50%25');
    expect(escapeTopicLevel('$SYS')).toBe('%24SYS');
    expect(escapeTopicLevel('C$')).toBe('C$');
    expect(escapeTopicLevel('')).toBe('%');
    expect(escapeTopicLevel('lone \ud800 surrogate')).toBe('lone \ufffd surrogate');
    expect(escapeTopicLevel('\u{1f389}')).toBe('\u{1f389}');
  });

  it('round-trips every well-formed name and never yields a wildcard, separator or NUL', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (name) => {
        const level = escapeTopicLevel(name);
        expect(level).not.toMatch(/[+#/\u0000]/);
        expect(level.startsWith('$')).toBe(false);
        expect(unescapeTopicLevel(level)).toBe(name);
      }),
      { numRuns: 2000 },
    );
  });

  it('builds event, watch-state and status topics', () => {
    const e = { server: 'nas', share: 'data', path: 'a b/#c', watch: 'a b' };
    expect(eventTopic('home/smb', e)).toBe('home/smb/nas/data/a b/%23c');
    expect(eventTopic('p', { ...e, path: '' })).toBe('p/nas/data');
    expect(watchStateTopic('p', e)).toBe('p/$watch/nas/data/a b');
    expect(statusTopic('p', 'smbnotify-host+1')).toBe('p/$status/smbnotify-host%2B1');
  });

  it('a path too long for a topic keeps its leading levels and ends with the truncation level', () => {
    const path = Array.from({ length: 400 }, (_, i) => `folder ${i} ${'ж'.repeat(100)}`).join('/');
    const topic = eventTopic('smbnotify', { server: 'nas', share: 'data', path });
    expect(Buffer.byteLength(topic)).toBeLessThanOrEqual(MAX_TOPIC_BYTES);
    expect(topic.startsWith('smbnotify/nas/data/folder 0 ')).toBe(true);
    expect(topic.endsWith(`/${TRUNCATED_LEVEL}`)).toBe(true);
    expect(fc.sample(fc.string({ unit: 'grapheme' }), 500).map(escapeTopicLevel)).not.toContain(TRUNCATED_LEVEL);
    expect(eventTopic('p', { server: 's', share: 'd', path: 'short' })).toBe('p/s/d/short');
  });
});

describe('[mqtt] config', () => {
  it('parses every key', () => {
    const c = parseConfig([
      '[mqtt]',
      'url = mqtts://broker.lan:8883',
      'client-id = nas-watcher',
      'username = smbnotify',
      'password-file = /etc/smbnotify/mqtt-password',
      'qos = 2',
      'topic-prefix = home/nas',
      'ca = /etc/ssl/ca.pem',
      'cert = /etc/ssl/me.pem',
      'key = /etc/ssl/me.key',
      'queue = /var/tmp/q',
      'queue-max-size = 16M',
    ].join('\n'));
    expect(c.mqtt).toEqual({
      url: 'mqtts://broker.lan:8883', clientId: 'nas-watcher', username: 'smbnotify', passwordFile: '/etc/smbnotify/mqtt-password', qos: 2,
      topicPrefix: 'home/nas', ca: '/etc/ssl/ca.pem', cert: '/etc/ssl/me.pem', key: '/etc/ssl/me.key', queueDir: '/var/tmp/q', queueMaxBytes: 16 * 1024 * 1024,
    });
  });

  it('every [mqtt] key of the shipped example parses when uncommented', () => {
    const example = readFileSync(join(import.meta.dirname, '..', '..', 'systemd', 'smbnotify.conf.example'), 'utf8');
    const section = example.slice(example.indexOf('# [mqtt]'));
    const text = section.split('\n').map((l) => l.replace(/^# (\[mqtt\]|[a-z-]+ = )/, '$1')).join('\n');
    const c = parseConfig(text);
    expect(Object.keys(c.mqtt!).sort()).toEqual(['ca', 'cert', 'clientId', 'key', 'passwordFile', 'qos', 'queueDir', 'queueMaxBytes', 'topicPrefix', 'url', 'username']);
  });

  it('refuses a password, wildcards in the prefix, a bad qos, unknown keys', () => {
    expect(() => parseConfig('[mqtt]\npassword = x')).toThrow(/password-file/);
    expect(() => parseConfig('[mqtt]\ntopic-prefix = a/#')).toThrow(ConfigError);
    expect(() => parseConfig('[mqtt]\nqos = 3')).toThrow(/qos is 0, 1 or 2/);
    expect(() => parseConfig('[mqtt]\nretain = yes')).toThrow(/unknown key "retain" in \[mqtt\]/);
    expect(checkTopicPrefix('/x')).toMatch(/empty level/);
    expect(checkTopicPrefix('$x')).toMatch(/\$/);
  });

  it('refuses a password in the URL and other schemes, in one line', () => {
    expect(() => checkMqttUrl('mqtt://u:secret@h')).toThrow(/password in the MQTT URL/);
    try {
      checkMqttUrl('mqtt://u:secret@h');
    } catch (err) {
      expect((err as Error).message).not.toContain('secret');
    }
    expect(() => checkMqttUrl('http://h')).toThrow(/unsupported scheme/);
    expect(() => checkMqttUrl('not a url')).toThrow(/malformed/);
    expect(checkMqttUrl('ws://h:9001/mqtt').port).toBe('9001');
  });

  it('a password in an MQTT URL on the command line is blanked from the process title (ps)', () => {
    expect(argvWithoutPasswords(['daemon', '--mqtt', 'mqtts://u:p%40ss@h'])).toEqual(['daemon', '--mqtt', 'mqtts://u:***@h']);
    expect(argvWithoutPasswords(['monitor', '--mqtt=ws://u:w@h/mqtt'])).toEqual(['monitor', '--mqtt=ws://u:***@h/mqtt']);
    expect(argvWithoutPasswords(['daemon', '--mqtt', 'mqtt://h'])).toBeNull();
  });

  it('reads the password from a 0600 file or the environment, never a readable file', async () => {
    const file = join(dir, 'pw');
    writeFileSync(file, 'pa ss\n', { mode: 0o600 });
    const r = await resolveMqtt({ url: 'mqtt://h', username: 'u', passwordFile: file, queueDir: dir }, false, {});
    expect(r).toMatchObject({ url: 'mqtt://h', username: 'u', password: 'pa ss', qos: 1, prefix: 'smbnotify' });
    expect((await resolveMqtt({ url: 'mqtt://u@h' }, false, { SMBNOTIFY_MQTT_PASSWORD: 'env', XDG_STATE_HOME: '/s' }))).toMatchObject({ username: 'u', password: 'env', queueDir: '/s/smbnotify/mqtt-queue', url: 'mqtt://h' });
    chmodSync(file, 0o644);
    await expect(resolveMqtt({ url: 'mqtt://h', username: 'u', passwordFile: file }, false, {})).rejects.toThrow(new UsageError(`MQTT password file ${file} is readable by others (mode 0644): run chmod 600 ${file}`));
    chmodSync(file, 0o640);
    await expect(resolveMqtt({ url: 'mqtt://h', username: 'u', passwordFile: file }, false, {})).rejects.toThrow(new UsageError(`MQTT password file ${file} is group-readable (mode 0640): run chmod 600 ${file}`));
    await expect(resolveMqtt({ url: 'mqtt://h' }, false, { SMBNOTIFY_MQTT_PASSWORD: 'x' })).rejects.toThrow(/no username/);
    await expect(resolveMqtt({ url: 'mqtt://h', ca: '/ca.pem' }, false, {})).rejects.toThrow(/mqtts:\/\//);
  });
});

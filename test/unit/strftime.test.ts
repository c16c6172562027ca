// --timefmt's strftime against date(1) on the same machine: %Z and the POSIX TZ rules it reads
// (the footer of the zone's TZif file, or TZ itself; ICU's English short names, used before,
// gave "GMT+1" for Berlin and "GMT+9" for Tokyo where date says CET and JST), and the
// conversions that depend on the zone's calendar (%j across the switch to summer time).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { strftime } from '../../src/sinks/terminal.js';
import { parsePosixZone } from '../../src/sinks/zone-abbreviation.js';

const savedTz = process.env['TZ'];
afterEach(() => {
  if (savedTz === undefined) delete process.env['TZ'];
  else process.env['TZ'] = savedTz;
});

describe('POSIX TZ rules', () => {
  it('names and standard offsets, east of UTC', () => {
    expect(parsePosixZone('CET-1CEST,M3.5.0,M10.5.0/3')).toEqual({ std: 'CET', stdOffsetMinutes: 60, dst: 'CEST' });
    expect(parsePosixZone('EST5EDT,M3.2.0,M11.1.0')).toEqual({ std: 'EST', stdOffsetMinutes: -300, dst: 'EDT' });
    expect(parsePosixZone('IST-5:30')).toEqual({ std: 'IST', stdOffsetMinutes: 330 });
    expect(parsePosixZone('<+04>-4')).toEqual({ std: '+04', stdOffsetMinutes: 240 });
    expect(parsePosixZone('<-03>3')).toEqual({ std: '-03', stdOffsetMinutes: -180 });
    expect(parsePosixZone('UTC0')).toEqual({ std: 'UTC', stdOffsetMinutes: 0 });
    expect(parsePosixZone('')).toBeUndefined();
  });
});

describe('%Z', () => {
  const zones = ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Asia/Kolkata', 'Asia/Dubai', 'Australia/Sydney', 'UTC', 'EST5EDT'];
  it('is what date(1) prints, in winter and in summer', () => {
    expect(existsSync('/usr/share/zoneinfo/Europe/Berlin'), 'the time zone data is missing: apt-get install tzdata').toBe(true);
    for (const tz of zones) {
      for (const iso of ['2026-01-15T12:00:00Z', '2026-07-15T12:00:00Z']) {
        const date = execFileSync('date', ['-d', iso, '+%Z'], { env: { TZ: tz }, encoding: 'utf8' }).trim();
        process.env['TZ'] = tz;
        expect(strftime('%Z', new Date(iso)), `${tz} ${iso}`).toBe(date);
      }
    }
  });
});

describe('conversions against date(1) around the switches to and from summer time', () => {
  it('every conversion --timefmt takes (C locale), in zones with and without summer time', () => {
    const fmt = '%Y %C %y %m %d %e %H %I %p %P %M %S %j %a %A %b %h %B %k %l %u %w %c|%x|%X|%r|%Z %F %T %D %R %s %z %t %%';
    for (const tz of ['Europe/Berlin', 'America/New_York', 'Australia/Sydney', 'Asia/Kolkata']) {
      // Just after midnight on days after each switch, the last minutes of the year, a leap day.
      for (const iso of ['2026-03-31T22:30:00Z', '2026-03-09T04:30:00Z', '2026-10-05T13:30:00Z', '2026-10-26T00:30:00Z', '2026-12-31T22:59:59Z', '2028-02-29T12:00:00Z']) {
        const date = execFileSync('date', ['-d', iso, `+${fmt}`], { env: { TZ: tz, LC_ALL: 'C' }, encoding: 'utf8' }).trim();
        process.env['TZ'] = tz;
        expect(strftime(fmt, new Date(iso)), `${tz} ${iso}`).toBe(date);
      }
    }
  });
});

import { describe, expect, it } from 'vitest';

import { joinLink, parseJoinLink } from '../src/lib/backend';

describe('join links', () => {
  it('round-trip a server and an invite code', () => {
    const link = joinLink('http://192.168.1.20:7878', 'K7QM-2XPA-9RDW');
    expect(link).toBe('satchel://join?server=http%3A%2F%2F192.168.1.20%3A7878&code=K7QM-2XPA-9RDW');
    expect(parseJoinLink(`  ${link} `)).toEqual({ server: 'http://192.168.1.20:7878', code: 'K7QM-2XPA-9RDW' });
  });

  it('refuse what is not a join link', () => {
    expect(parseJoinLink('K7QM-2XPA-9RDW')).toBeNull();
    expect(parseJoinLink('satchel://join?server=file:///etc&code=A')).toBeNull();
    expect(parseJoinLink('satchel://join?server=http://x')).toBeNull();
  });
});

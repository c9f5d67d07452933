import { describe, expect, it } from 'vitest';
import { plural } from '../../src/core/plural.js';
import { nearestState, stateFromAnyWord, typedStateWords, vocabularyTable } from '../../src/core/state-vocabularies.js';
import { editDistance, nearestWord } from '../../src/core/suggest.js';
import { ALL_TCP_STATES } from '../../src/core/tcp-state.js';

describe('editDistance', () => {
  it.each([
    ['state', 'state', 0],
    ['stat', 'state', 1], // one letter missing
    ['CLOSE_WIAT', 'CLOSE_WAIT', 1], // two neighbours swapped count once
    ['chekc', 'check', 1],
    ['LISTEN', 'listen', 0], // case does not count
    ['kitten', 'sitting', 3], // the textbook case
    ['', 'abc', 3],
  ])('%s → %s: %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe('nearestWord', () => {
  it('suggests the nearest within a third of the word, the first of equals, never the word itself', () => {
    expect(nearestWord('lst', ['list', 'check'])).toBe('list');
    expect(nearestWord('chekc', ['list', 'check', 'explain'])).toBe('check');
    expect(nearestWord('serv', ['serve', 'reset'])).toBe('serve');
    expect(nearestWord('zzz', ['list', 'check'])).toBeUndefined(); // a wild guess gets no suggestion
    expect(nearestWord('xplainxx', ['explain'])).toBeUndefined(); // 3 edits on an 8-letter word: too far (limit 2)
    expect(nearestWord('list', ['list'])).toBeUndefined();
    expect(nearestWord('ab', ['ax', 'ay'])).toBe('ax');
  });
});

describe('typed state words', () => {
  it('takes every canonical name and every typed vocabulary word without separators, in any case', () => {
    for (const state of ALL_TCP_STATES) {
      expect(stateFromAnyWord(state.replace(/_/g, ''))).toBe(state);
      expect(stateFromAnyWord(state.toLowerCase().replace(/_/g, ' '))).toBe(state);
    }
    for (const vocabulary of ['ss', 'linux-netstat', 'windows-netstat', 'bsd-netstat'] as const) {
      for (const [word, state] of Object.entries(vocabularyTable(vocabulary))) {
        if (state !== 'UNKNOWN') expect(stateFromAnyWord(word.replace(/[-_\s]/g, '')), `${vocabulary} ${word}`).toBe(state);
      }
    }
  });

  it('no squeezed spelling names two states (so accepting CLOSEWAIT guesses nothing)', () => {
    const seen = new Map<string, string>();
    for (const state of ALL_TCP_STATES) seen.set(state.replace(/_/g, ''), state);
    for (const vocabulary of ['ss', 'linux-netstat', 'windows-netstat', 'bsd-netstat'] as const) {
      for (const [word, state] of Object.entries(vocabularyTable(vocabulary))) {
        if (state === 'UNKNOWN') continue;
        const key = word.toUpperCase().replace(/[-_\s]/g, '');
        expect(seen.get(key) ?? state, `${vocabulary} ${word}`).toBe(state);
        seen.set(key, state);
      }
    }
    expect([...typedStateWords()].length).toBe(seen.size);
  });

  it('still refuses words that are no state, and suggests the nearest for a near miss', () => {
    expect(stateFromAnyWord('CLOSE_WIAT')).toBeUndefined();
    expect(stateFromAnyWord('HALF_DEAD')).toBeUndefined();
    expect(nearestState('CLOSE_WIAT')).toBe('CLOSE_WAIT');
    expect(nearestState('close-wiat')).toBe('CLOSE_WAIT');
    expect(nearestState('ESTABLISHD')).toBe('ESTABLISHED');
    expect(nearestState('SYN_RECIEVED')).toBe('SYN_RECEIVED');
    expect(nearestState('LISTENNING')).toBe('LISTEN'); // nearest spelling is Windows' LISTENING
    expect(nearestState('HALF_DEAD')).toBeUndefined();
  });
});

describe('plural', () => {
  it.each([
    [0, 'connection', undefined, '0 connections'],
    [1, 'connection', undefined, '1 connection'],
    [2, 'row', undefined, '2 rows'],
    [3, 'source address', undefined, '3 source addresses'],
    [1, 'source address', undefined, '1 source address'],
    [2, 'entry', 'entries', '2 entries'],
  ])('%i %s', (n, word, form, text) => {
    expect(plural(n, word, form)).toBe(text);
  });
});

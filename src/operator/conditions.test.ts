import { describe, expect, it } from 'vitest';
import { readyCondition, sameConditions, setCondition, transitions, type Condition, type ConditionInput } from './conditions.js';

const T0 = new Date('2025-01-01T00:00:00Z');
const T1 = new Date('2025-01-01T00:05:00Z');
const accepted = (status: Condition['status'], reason = 'Accepted', generation = 1): ConditionInput =>
  ({ type: 'Accepted', status, reason, message: reason, observedGeneration: generation });

describe('setCondition', () => {
  it('adds a condition with lastTransitionTime now', () => {
    expect(setCondition([], accepted('True'), T0)).toEqual([{ ...accepted('True'), lastTransitionTime: T0.toISOString() }]);
  });

  it('keeps lastTransitionTime when the status is unchanged, even when reason, message or generation change', () => {
    const first = setCondition([], accepted('True'), T0);
    const second = setCondition(first, { ...accepted('True', 'Accepted', 2), message: 'other' }, T1);
    expect(second[0]).toMatchObject({ observedGeneration: 2, message: 'other', lastTransitionTime: T0.toISOString() });
  });

  it('moves lastTransitionTime when the status changes, and does not modify its input', () => {
    const first = setCondition([], accepted('True'), T0);
    const second = setCondition(first, accepted('False', 'Invalid'), T1);
    expect(second[0]?.lastTransitionTime).toBe(T1.toISOString());
    expect(first[0]?.lastTransitionTime).toBe(T0.toISOString());
  });

  it('orders Accepted, Programmed, Ready, Monitored, then others', () => {
    let cs: Condition[] = [];
    for (const type of ['Custom', 'Ready', 'Monitored', 'Programmed', 'Accepted']) {
      cs = setCondition(cs, { ...accepted('True'), type }, T0);
    }
    expect(cs.map((c) => c.type)).toEqual(['Accepted', 'Programmed', 'Ready', 'Monitored', 'Custom']);
  });
});

describe('sameConditions and transitions', () => {
  it('ignore lastTransitionTime and order', () => {
    const a = setCondition(setCondition([], accepted('True'), T0), { ...accepted('True'), type: 'Ready' }, T0);
    const b = setCondition(setCondition([], { ...accepted('True'), type: 'Ready' }, T1), accepted('True'), T1);
    expect(sameConditions(a, b)).toBe(true);
    expect(transitions(a, b)).toEqual([]);
  });

  it('report status and reason changes and new types', () => {
    const before = setCondition([], accepted('False', 'Invalid'), T0);
    const after = setCondition(setCondition(before, accepted('False', 'TargetNotFound'), T1), { ...accepted('True'), type: 'Monitored' }, T1);
    expect(sameConditions(before, after)).toBe(false);
    expect(transitions(before, after).map((c) => `${c.type} ${c.reason}`)).toEqual(['Accepted TargetNotFound', 'Monitored Accepted']);
  });
});

describe('readyCondition', () => {
  const programmed = (status: Condition['status']): ConditionInput => ({ type: 'Programmed', status, reason: 'X', message: 'why', observedGeneration: 1 });
  it('is True only when Accepted and Programmed are', () => {
    expect(readyCondition(accepted('True'), programmed('True'))).toMatchObject({ type: 'Ready', status: 'True', reason: 'Ready' });
    expect(readyCondition(accepted('False', 'Invalid'), programmed('False'))).toMatchObject({ status: 'False', reason: 'NotAccepted', message: 'Not accepted: Invalid' });
    expect(readyCondition(accepted('True'), programmed('False'))).toMatchObject({ status: 'False', reason: 'NotProgrammed', message: 'Not programmed: why' });
    expect(readyCondition(accepted('True'), programmed('Unknown'))).toMatchObject({ status: 'Unknown', reason: 'NotProgrammed' });
  });
});

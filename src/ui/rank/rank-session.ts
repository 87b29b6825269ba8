import type { Key } from 'ink';
import { commandFor, keyNames } from '../keys.js';
import type { Tone } from '../theme.js';
import { pairAgreement } from './rank-agreement.js';
import type { RankDecision, RankEntry, RankFacade, RankTiers } from '../../review/rank-facade.js';

export type RankMode =
  | { kind: 'browse' }
  | { kind: 'help' }
  /** `b` pressed: the next number is the best response. */
  | { kind: 'best' }
  /** The best is picked: the next number is the worst. */
  | { kind: 'worst'; best: number }
  /** `o` pressed: numbers from best to worst; the last one left is placed by itself. */
  | { kind: 'order'; picked: number[] };

/**
 * The ranking screen's state and every action a key can trigger, outside React (as the review session) so that
 * keys arriving in one read apply in order and the logic is testable without ink. Responses are numbered from 1
 * on screen; the sample's own output is number 1.
 */
export class RankSession {
  entries: RankEntry[];
  cursor: number;
  /** First line of the response pane shown. */
  scroll = 0;
  mode: RankMode = { kind: 'browse' };
  message: { text: string; tone: Tone } | null = null;
  quit = false;
  /** Lines the response pane shows; the screen sets it on every render so page keys move by a screenful. */
  pageSize = 10;

  constructor(private readonly facade: RankFacade) {
    this.entries = facade.entries();
    const firstOpen = this.entries.findIndex((e) => e.human === null);
    this.cursor = firstOpen >= 0 ? firstOpen : 0;
  }

  get current(): RankEntry | undefined {
    return this.entries[this.cursor];
  }

  get progress(): { ranked: number; skipped: number; total: number } {
    let ranked = 0;
    let skipped = 0;
    for (const e of this.entries) {
      if (e.human?.kind === 'skip') skipped++;
      else if (e.human) ranked++;
    }
    return { ranked, skipped, total: this.entries.length };
  }

  /** Pairwise agreement with the judge over every sample both have ranked. */
  get agreement(): { agree: number; total: number } {
    let agree = 0;
    let total = 0;
    for (const e of this.entries) {
      if (!e.judge || !e.human?.tiers) continue;
      const a = pairAgreement(e.human.tiers, e.judge);
      agree += a.agree;
      total += a.total;
    }
    return { agree, total };
  }

  /** Returns true when something changed (the screen redraws). */
  handleInput(input: string, key: Key): boolean {
    let changed = false;
    for (const name of keyNames(input, key)) changed = this.press(name) || changed;
    return changed;
  }

  press(name: string): boolean {
    const command = commandFor('rank', name);
    if (this.mode.kind === 'help') {
      if (command === 'quit' && name === 'ctrl+c') this.quit = true;
      else if (name === 'escape' || name === 'q' || name === '?' || name === 'return') this.mode = { kind: 'browse' };
      else return false;
      return true;
    }
    if (command === undefined) return false;
    this.message = null;
    const entry = this.current;
    switch (command) {
      case 'quit':
        this.quit = true;
        return true;
      case 'help':
        this.mode = { kind: 'help' };
        return true;
      case 'scrollDown':
        this.scroll += 1;
        return true;
      case 'scrollUp':
        this.scroll = Math.max(0, this.scroll - 1);
        return true;
      case 'pageDown':
        this.scroll += Math.max(1, this.pageSize - 1);
        return true;
      case 'pageUp':
        this.scroll = Math.max(0, this.scroll - Math.max(1, this.pageSize - 1));
        return true;
      case 'next':
        return this.moveTo(this.cursor + 1);
      case 'previous':
        return this.moveTo(this.cursor - 1);
      case 'cancel':
        if (this.mode.kind === 'browse') return false;
        this.mode = { kind: 'browse' };
        this.message = { text: 'pick cancelled', tone: 'muted' };
        return true;
      case 'undo':
        return this.undo();
    }
    if (!entry) return false;
    switch (command) {
      case 'best':
        this.mode = { kind: 'best' };
        return true;
      case 'order':
        this.mode = { kind: 'order', picked: [] };
        return true;
      case 'skip':
        this.decide(entry, { kind: 'skip', tiers: null }, `#${entry.itemId} skipped`);
        return true;
      case 'pick':
        return this.pick(entry, Number(name));
    }
    return false;
  }

  private pick(entry: RankEntry, n: number): boolean {
    const count = entry.responses.length;
    if (this.mode.kind === 'browse') {
      this.message = { text: `press b (best, then worst) or o (order all) before a number`, tone: 'warn' };
      return true;
    }
    if (n < 1 || n > count) {
      this.message = { text: `there is no response ${n}: pick 1–${count}`, tone: 'warn' };
      return true;
    }
    const ids = entry.responses.map((r) => r.id);
    if (this.mode.kind === 'best') {
      if (count === 2) return this.decideBestWorst(entry, n, 3 - n);
      this.mode = { kind: 'worst', best: n };
      return true;
    }
    if (this.mode.kind === 'worst') {
      if (n === this.mode.best) {
        this.message = { text: `${n} is the best; pick a different worst`, tone: 'warn' };
        return true;
      }
      return this.decideBestWorst(entry, this.mode.best, n);
    }
    if (this.mode.kind === 'order') {
      if (this.mode.picked.includes(n)) {
        this.message = { text: `${n} is already placed`, tone: 'warn' };
        return true;
      }
      const picked = [...this.mode.picked, n];
      if (picked.length < count - 1) {
        this.mode = { kind: 'order', picked };
        return true;
      }
      const last = ids.map((_, i) => i + 1).find((k) => !picked.includes(k));
      if (last !== undefined) picked.push(last);
      const tiers = picked.map((k) => [ids[k - 1]!]);
      this.decide(entry, { kind: 'order', tiers }, `#${entry.itemId}: order ${picked.join(' > ')}${this.agreementNote(entry, tiers)}`);
      return true;
    }
    return false;
  }

  private decideBestWorst(entry: RankEntry, best: number, worst: number): boolean {
    const ids = entry.responses.map((r) => r.id);
    const middle = ids.filter((_, i) => i + 1 !== best && i + 1 !== worst);
    const tiers: RankTiers = [[ids[best - 1]!], ...(middle.length ? [middle] : []), [ids[worst - 1]!]];
    this.decide(entry, { kind: 'best-worst', tiers }, `#${entry.itemId}: best ${best}, worst ${worst}${this.agreementNote(entry, tiers)}`);
    return true;
  }

  private agreementNote(entry: RankEntry, tiers: RankTiers): string {
    if (!entry.judge) return '';
    const a = pairAgreement(tiers, entry.judge);
    return a.total === 0 ? ' · the judge tied them' : ` · judge agrees on ${a.agree}/${a.total} pairs`;
  }

  /** Written through at once; then on to the next sample. */
  private decide(entry: RankEntry, decision: RankDecision, text: string): void {
    this.facade.decide(entry.itemId, decision);
    entry.human = decision;
    this.mode = { kind: 'browse' };
    const p = this.progress;
    const done = p.ranked + p.skipped === p.total;
    this.message = { text: done ? `${text} · every sample decided` : text, tone: decision.kind === 'skip' ? 'warn' : 'good' };
    if (this.cursor < this.entries.length - 1) {
      this.cursor++;
      this.scroll = 0;
    }
  }

  private undo(): boolean {
    const u = this.facade.undo();
    this.mode = { kind: 'browse' };
    if (!u) {
      this.message = { text: 'nothing to undo', tone: 'muted' };
      return true;
    }
    const i = this.entries.findIndex((e) => e.itemId === u.itemId);
    if (i >= 0) {
      this.entries[i]!.human = u.current;
      this.cursor = i;
      this.scroll = 0;
    }
    this.message = { text: `undid #${u.itemId}: now ${u.current ? (u.current.kind === 'skip' ? 'skipped' : 'ranked (earlier decision)') : 'not ranked'}`, tone: 'info' };
    return true;
  }

  private moveTo(i: number): boolean {
    if (i < 0 || i >= this.entries.length || i === this.cursor) return false;
    this.cursor = i;
    this.scroll = 0;
    this.mode = { kind: 'browse' };
    return true;
  }
}

// Drawing a cloze card ({{c1::answer}} or {{c1::answer::hint}}): the question shows the card's
// own deletions as a gap and every other deletion as its answer; the answer side shows the
// whole text with the card's deletions marked. The server has checked the text already
// (srs/topics/cloze.py); this only lays it out.

import { h } from './dom.js';

const DELETION = /\{\{c(\d{1,3})::([\s\S]*?)\}\}/g;

/** The text as pieces: plain strings, and {number, answer, hint} for each deletion. */
export function clozePieces(text) {
  const pieces = [];
  let position = 0;
  for (const match of text.matchAll(DELETION)) {
    pieces.push(text.slice(position, match.index));
    const separator = match[2].indexOf('::');
    const answer = separator < 0 ? match[2] : match[2].slice(0, separator);
    const hint = separator < 0 ? '' : match[2].slice(separator + 2);
    pieces.push({ number: Number(match[1]), answer: answer.trim(), hint: hint.trim() });
    position = match.index + match[0].length;
  }
  pieces.push(text.slice(position));
  return pieces;
}

/** The card's question (`revealed` false) or answer side, as nodes. */
export function clozeNodes(card, revealed) {
  return clozePieces(card.text).map((piece) => {
    if (typeof piece === 'string') return piece;
    if (piece.number !== card.cloze_ordinal) return piece.answer;
    if (revealed) return h('mark', { class: 'cloze-answer' }, piece.answer);
    return h('span', { class: 'cloze-gap', 'aria-label': piece.hint ? `blank, hint: ${piece.hint}` : 'blank' },
      piece.hint ? `[${piece.hint}]` : '[...]');
  });
}

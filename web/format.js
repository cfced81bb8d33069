// Numbers and times the way a learner reads them.

/** Seconds to a compact interval: 45s, 1m, 10m, 3h, 3d, 2mo, 1.5y. */
export function interval(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return '';
  const secs = Math.max(0, Math.round(seconds));
  if (secs < 60) return `${secs}s`;
  const minutes = Math.round(secs / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.round(secs / 3600);
  if (hours < 24) return `${hours}h`;
  const days = Math.round(secs / 86400);
  if (days < 30) return `${days}d`;
  const months = Math.round(secs / (86400 * 30));
  if (months < 12) return `${months}mo`;
  const years = secs / (86400 * 365);
  return `${years < 10 ? Math.round(years * 10) / 10 : Math.round(years)}y`;
}

/** Seconds to words: "less than a minute", "3 min", "2 hours", "4 days". */
export function duration(seconds) {
  const secs = Math.max(0, Math.round(seconds));
  if (secs < 60) return 'less than a minute';
  const minutes = Math.round(secs / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.round(secs / 3600);
  if (hours < 24) return hours === 1 ? '1 hour' : `${hours} hours`;
  const days = Math.round(secs / 86400);
  return days === 1 ? '1 day' : `${days} days`;
}

export function until(isoTime, now = Date.now()) {
  return duration((Date.parse(isoTime) - now) / 1000);
}

export function percent(share) {
  return share === null || share === undefined ? '—' : `${Math.round(share * 100)}%`;
}

export function day(isoDate, options = { month: 'short', day: 'numeric' }) {
  // A plain date ("2025-11-23") is a calendar day, not an instant: read it at noon UTC.
  return new Date(`${isoDate}T12:00:00Z`).toLocaleDateString(undefined, { ...options, timeZone: 'UTC' });
}

export function number(value) {
  return value === null || value === undefined ? '—' : Number(value).toLocaleString();
}

export const RATINGS = [
  { value: 1, name: 'Again' },
  { value: 2, name: 'Hard' },
  { value: 3, name: 'Good' },
  { value: 4, name: 'Easy' },
];

export const STATUS_TEXT = {
  idle: 'ready',
  queued: 'queued for generation',
  running: 'generating cards',
  failed: 'generation failed',
  quota_exceeded: 'monthly card quota reached',
  paused: 'generation paused',
};


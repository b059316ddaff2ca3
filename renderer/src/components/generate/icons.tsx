/** Small line icons (inline SVG: no icon font, no emoji font needed). */

const base = {
  width: 16,
  height: 16,
  viewBox: '0 0 16 16',
  fill: 'none',
  stroke: 'currentColor',
  strokeWidth: 1.4,
  strokeLinecap: 'round' as const,
  strokeLinejoin: 'round' as const,
  focusable: false,
}

export function DiceIcon() {
  return (
    <svg {...base} aria-hidden="true">
      <rect x="2.5" y="2.5" width="11" height="11" rx="2.2" />
      <circle cx="5.5" cy="5.5" r="0.9" fill="currentColor" stroke="none" />
      <circle cx="10.5" cy="5.5" r="0.9" fill="currentColor" stroke="none" />
      <circle cx="8" cy="8" r="0.9" fill="currentColor" stroke="none" />
      <circle cx="5.5" cy="10.5" r="0.9" fill="currentColor" stroke="none" />
      <circle cx="10.5" cy="10.5" r="0.9" fill="currentColor" stroke="none" />
    </svg>
  )
}

export function LockIcon({ locked }: { locked: boolean }) {
  return (
    <svg {...base} aria-hidden="true">
      <rect x="3" y="7" width="10" height="7" rx="1.5" />
      <path d={locked ? 'M5 7V5a3 3 0 0 1 6 0v2' : 'M5 7V5a3 3 0 0 1 5.8-1.1'} />
    </svg>
  )
}

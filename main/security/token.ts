import { randomBytes, timingSafeEqual } from 'node:crypto'

/** A fresh secret per launch of serve mode. */
export function newToken(): string {
  return randomBytes(24).toString('base64url')
}

/** Constant-time comparison, so the token cannot be guessed byte by byte from response times. */
export function tokenMatches(expected: string, given: string | null | undefined): boolean {
  if (typeof given !== 'string') return false
  const a = Buffer.from(expected)
  const b = Buffer.from(given)
  return a.length === b.length && timingSafeEqual(a, b)
}

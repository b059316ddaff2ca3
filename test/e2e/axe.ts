/** Runs axe-core (the accessibility rules engine) in a page and summarises what it found. */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import type { Page } from 'playwright-core'

const AXE_SOURCE = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

export interface AxeFinding {
  id: string
  impact: string | null
  help: string
  /** Up to five offending elements, each with axe's summary of what to fix. */
  nodes: string[]
}

/**
 * Every violation of axe's rules (WCAG 2.x A and AA, and its best practices) inside `selector` (the whole page
 * when omitted). The script is evaluated through the debugging protocol, which the page's CSP does not govern,
 * so the app itself runs with its real policy.
 */
export async function axeViolations(page: Page, selector?: string): Promise<AxeFinding[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE)
  return page.evaluate(async (scope) => {
    const axe = (window as unknown as { axe: AxeApi }).axe
    const context = scope ? (document.querySelector(scope) as Element) : document
    const results = await axe.run(context, { resultTypes: ['violations'] })
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact ?? null,
      help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`),
    }))

    interface AxeApi {
      run(
        context: Element | Document,
        options: object,
      ): Promise<{
        violations: {
          id: string
          impact?: string | null
          help: string
          nodes: { target: string[]; failureSummary?: string }[]
        }[]
      }>
    }
  }, selector ?? null)
}

/** The findings as lines for the test log. */
export function describeFindings(screen: string, findings: AxeFinding[]): string {
  if (findings.length === 0) return `axe, ${screen}: no violations`
  return [
    `axe, ${screen}: ${findings.length} violation${findings.length === 1 ? '' : 's'}`,
    ...findings.map(
      (f) =>
        `  [${f.impact}] ${f.id}: ${f.help}\n${f.nodes.map((n) => `      ${n.replaceAll('\n', ' ')}`).join('\n')}`,
    ),
  ].join('\n')
}

export function seriousOrCritical(findings: AxeFinding[]): AxeFinding[] {
  return findings.filter((f) => f.impact === 'serious' || f.impact === 'critical')
}

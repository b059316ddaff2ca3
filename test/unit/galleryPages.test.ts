/**
 * The gallery view's data without a browser: the page cache the virtualized grid reads (fetching what comes
 * into view once, dropping answers that a newer query or refresh made stale, keeping only pages near the view,
 * taking deleted images out at once), and the query the filters make.
 */
import { describe, expect, it } from 'vitest'
import type { GalleryItem, GalleryPage, GalleryQuery } from '../../common/gallery.ts'
import type { Result } from '../../common/result.ts'
import { NO_FILTERS, queryOf } from '../../renderer/src/components/gallery/galleryFilters.ts'
import { GalleryPages, PAGE_SIZE } from '../../renderer/src/components/gallery/galleryPages.ts'

function item(i: number): GalleryItem {
  return {
    id: `2026-01-01/${String(i).padStart(6, '0')}.png`,
    createdAt: new Date(i * 1000).toISOString(),
    bytes: 100,
    width: 32,
    height: 32,
    packId: 'emoji32',
    packVersion: '1.0.0',
    mode: '1step',
    classIndex: 0,
    className: 'noto / Animals',
    prompt: null,
    seed: i,
    timings: null,
    favorite: false,
    rating: 0,
    metadata: null,
    parameters: null,
  }
}

/** A fake gallery.list over `total` items whose answers the test releases by hand. */
function fakeList(total: () => number) {
  const calls: { query: GalleryQuery; answer(): void }[] = []
  const list = (query: GalleryQuery): Promise<Result<GalleryPage>> =>
    new Promise((resolve) => {
      calls.push({
        query,
        answer: () => {
          const offset = query.offset ?? 0
          const n = Math.max(0, Math.min(query.limit ?? PAGE_SIZE, total() - offset))
          resolve({
            ok: true,
            value: { total: total(), items: Array.from({ length: n }, (_, k) => item(offset + k)) },
          })
        },
      })
    })
  return { list, calls }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0))

describe('GalleryPages', () => {
  it('fetches each page in view once, and reads items by index', async () => {
    const { list, calls } = fakeList(() => 1000)
    const pages = new GalleryPages(list)
    pages.setQuery({ sort: 'newest' })
    pages.show(0, 250)
    expect(calls.map((c) => c.query.offset)).toEqual([0, 100, 200])
    expect(calls[0]?.query).toMatchObject({ sort: 'newest', limit: PAGE_SIZE })
    pages.show(0, 250)
    expect(calls).toHaveLength(3) // in flight: not asked again
    for (const c of calls) c.answer()
    await settle()
    expect(pages.count).toBe(1000)
    expect(pages.at(0)?.seed).toBe(0)
    expect(pages.at(250)?.seed).toBe(250)
    expect(pages.at(300)).toBeUndefined()
    pages.show(0, 250)
    expect(calls).toHaveLength(3) // loaded: not asked again
  })

  it('drops answers made stale by a newer query or refresh, and keeps showing items until new ones come', async () => {
    let total = 500
    const { list, calls } = fakeList(() => total)
    const pages = new GalleryPages(list)
    pages.setQuery({})
    calls[0]?.answer()
    await settle()
    const first = pages.at(0)
    pages.refresh()
    expect(calls).toHaveLength(2)
    expect(pages.at(0)).toBe(first) // still shown while the refresh is on its way
    total = 501
    pages.setQuery({ mode: '2step' })
    expect(pages.count).toBeNull()
    calls[1]?.answer() // the refresh of the old query: ignored
    await settle()
    expect(pages.count).toBeNull()
    calls[2]?.answer()
    await settle()
    expect(pages.count).toBe(501)
    expect(calls[2]?.query.mode).toBe('2step')
  })

  it('keeps only the pages near the view', async () => {
    const { list, calls } = fakeList(() => 10_000)
    const pages = new GalleryPages(list)
    pages.setQuery({})
    calls[0]?.answer()
    await settle()
    pages.show(9_900, 9_999)
    calls.at(-1)?.answer()
    await settle()
    expect(pages.at(9_999)?.seed).toBe(9_999)
    expect(pages.at(0)).toBeUndefined() // far from the view: dropped
    pages.show(0, 50)
    expect(calls.at(-1)?.query.offset).toBe(0) // and asked again when it comes back
  })

  it('takes deleted items out at once, moving the rest up, then fetches the view again', async () => {
    const { list, calls } = fakeList(() => 300)
    const pages = new GalleryPages(list)
    pages.setQuery({})
    pages.show(0, 299)
    for (const c of calls) c.answer()
    await settle()
    const asked = calls.length
    pages.remove([item(5).id, item(150).id])
    expect(pages.count).toBe(298)
    expect(pages.at(5)?.seed).toBe(6)
    expect(pages.at(149)?.seed).toBe(151)
    expect(calls.length).toBeGreaterThan(asked)
    pages.replace([{ ...item(6), favorite: true }])
    expect(pages.at(5)?.favorite).toBe(true)
  })

  it('reports a failed page and asks again on refresh', async () => {
    let fail = true
    const pages = new GalleryPages(async (query) =>
      fail
        ? { ok: false, error: { code: 'unavailable', message: 'the gallery index was damaged' } }
        : { ok: true, value: { total: 1, items: query.offset === 0 ? [item(0)] : [] } },
    )
    pages.setQuery({})
    await settle()
    expect(pages.loadError).toBe('the gallery index was damaged')
    fail = false
    pages.refresh()
    await settle()
    expect(pages.loadError).toBeNull()
    expect(pages.count).toBe(1)
  })
})

describe('the gallery filters as a query', () => {
  it('sends only what is set, newest first', () => {
    expect(queryOf(NO_FILTERS)).toEqual({ sort: 'newest' })
    expect(
      queryOf({
        ...NO_FILTERS,
        text: '  fox ',
        packId: 'emoji32',
        classIndex: '3',
        mode: 'hybrid',
        favorite: true,
      }),
    ).toEqual({
      sort: 'newest',
      text: 'fox',
      packId: 'emoji32',
      classIndex: 3,
      mode: 'hybrid',
      favorite: true,
    })
  })

  it('turns a date range into the first and last instant of those local days', () => {
    const query = queryOf({ ...NO_FILTERS, from: '2026-03-01', to: '2026-03-02' })
    expect(query.from).toBe(new Date(2026, 2, 1, 0, 0, 0, 0).toISOString())
    expect(query.to).toBe(new Date(2026, 2, 2, 23, 59, 59, 999).toISOString())
    expect(queryOf({ ...NO_FILTERS, from: 'not a date' }).from).toBeUndefined()
  })
})

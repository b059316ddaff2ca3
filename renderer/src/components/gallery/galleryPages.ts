/**
 * The gallery's images as the grid sees them: one sparse list, newest first, filled a page at a time with
 * gallery.list as rows come into view. Only pages near the view are kept, so a gallery of any size costs a few
 * pages of memory. A refresh (the gallery changed) keeps showing what is there until the new pages arrive, so
 * the grid does not flash; answers that arrive after a newer refresh or another query are dropped.
 */
import type { GalleryItem, GalleryPage, GalleryQuery } from '../../../../common/gallery.ts'
import type { Result } from '../../../../common/result.ts'

export const PAGE_SIZE = 100
/** Pages kept on each side of the view; farther ones are dropped and fetched again if the user comes back. */
const KEEP_PAGES_AROUND = 6

export type ListPage = (query: GalleryQuery) => Promise<Result<GalleryPage>>

export class GalleryPages {
  /** Item i of the current query, or undefined while its page is not loaded. */
  private items: (GalleryItem | undefined)[] = []
  private total: number | null = null
  private error: string | null = null
  /** Pages fetched since the last refresh; the others may show stale items and are fetched again in view. */
  private readonly fresh = new Set<number>()
  /** Pages with items in the list (fresh or stale). */
  private readonly held = new Set<number>()
  /** Page -> the version it was requested for. */
  private readonly inFlight = new Map<number, number>()
  private version = 0
  private query: GalleryQuery = {}
  private view: { first: number; last: number } = { first: 0, last: 0 }
  private readonly listeners = new Set<() => void>()
  /** Grows on every change: what React compares to know it must render again. */
  private changes = 0

  constructor(private readonly list: ListPage) {}

  get revision(): number {
    return this.changes
  }

  /** Null until the first page of the current query answers. */
  get count(): number | null {
    return this.total
  }

  /** Why the last page could not be loaded, or null. */
  get loadError(): string | null {
    return this.error
  }

  at(index: number): GalleryItem | undefined {
    return this.items[index]
  }

  /** The index of an id among the loaded items, or -1. */
  indexOf(id: string): number {
    return this.items.findIndex((item) => item?.id === id)
  }

  /** An arrow function, so it can be handed to useSyncExternalStore as it is. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  /** A new query: everything is dropped and its first pages are fetched. */
  setQuery(query: GalleryQuery): void {
    this.query = query
    this.version++
    this.items = []
    this.total = null
    this.error = null
    this.fresh.clear()
    this.held.clear()
    this.view = { first: 0, last: 0 }
    this.notify()
    this.show(0, 0)
  }

  /** The gallery changed: the pages in view are fetched again; the others when they come into view. */
  refresh(): void {
    this.version++
    this.fresh.clear()
    this.show(this.view.first, this.view.last)
  }

  /** Items first..last (inclusive) are in view (with their overscan): fetch what they need. */
  show(first: number, last: number): void {
    this.view = { first, last }
    const firstPage = Math.floor(Math.max(0, first) / PAGE_SIZE)
    const lastPage = Math.floor(Math.max(0, last) / PAGE_SIZE)
    for (let page = firstPage; page <= lastPage; page++) {
      if (this.total !== null && page * PAGE_SIZE >= this.total && page > 0) break
      if (!this.fresh.has(page) && this.inFlight.get(page) !== this.version) void this.fetch(page)
    }
    this.evict(firstPage, lastPage)
  }

  /** Puts changed items (a new mark) in place at once, before the refresh brings them too. */
  replace(items: readonly GalleryItem[]): void {
    const byId = new Map(items.map((item) => [item.id, item]))
    let changed = false
    this.items = this.items.map((item) => {
      const next = item && byId.get(item.id)
      if (!next) return item
      changed = true
      return next
    })
    if (changed) this.notify()
  }

  /** Takes deleted items out at once, so the items after them move up; pages are fetched again in view. */
  remove(ids: readonly string[]): void {
    const gone = new Set(ids)
    const before = this.items.length
    // A sparse list keeps its holes through filter only if they are made explicit first.
    this.items = Array.from(this.items).filter((item) => !(item && gone.has(item.id)))
    const removed = before - this.items.length
    if (removed === 0) return
    if (this.total !== null) this.total = Math.max(0, this.total - removed)
    this.refresh()
    this.notify()
  }

  private async fetch(page: number): Promise<void> {
    const version = this.version
    const query = this.query
    this.inFlight.set(page, version)
    const answer = await this.list({ ...query, offset: page * PAGE_SIZE, limit: PAGE_SIZE })
    if (this.inFlight.get(page) === version) this.inFlight.delete(page)
    if (version !== this.version) return
    if (!answer.ok) {
      this.error = answer.error.message
      this.notify()
      return
    }
    this.error = null
    const { total, items } = answer.value
    if (total !== this.total) {
      this.total = total
      this.items.length = Math.min(this.items.length, total)
    }
    for (let i = 0; i < PAGE_SIZE; i++) this.items[page * PAGE_SIZE + i] = items[i]
    this.items.length = Math.min(this.items.length, total)
    this.fresh.add(page)
    this.held.add(page)
    this.notify()
  }

  private evict(firstPage: number, lastPage: number): void {
    for (const page of this.held) {
      if (page >= firstPage - KEEP_PAGES_AROUND && page <= lastPage + KEEP_PAGES_AROUND) continue
      for (let i = page * PAGE_SIZE; i < (page + 1) * PAGE_SIZE && i < this.items.length; i++)
        this.items[i] = undefined
      this.held.delete(page)
      this.fresh.delete(page)
    }
  }

  private notify(): void {
    this.changes++
    for (const listener of this.listeners) listener()
  }
}

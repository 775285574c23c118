// pagedList: an informer's list, a page at a time, each page trimmed before the next. The
// list function is a table of pages here; the informer against a real API server is in
// test/integration (operator, resilience).
import { describe, expect, it } from '@jest/globals';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import { LIST_PAGE_SIZE, pagedList, type ListPage } from '../../../src/operator/informer.js';

type Obj = KubernetesObject & { spec?: unknown };

function pages(...sizes: number[]): {
  list: (p: ListPage) => Promise<KubernetesListObject<Obj>>;
  asked: ListPage[];
} {
  const asked: ListPage[] = [];
  let n = 0;
  return {
    asked,
    list: async (p) => {
      asked.push(p);
      const i = asked.length - 1;
      const items = Array.from({ length: sizes[i] ?? 0 }, () => ({
        metadata: { name: `o${n++}`, managedFields: [{}] },
        spec: { big: true },
      }));
      // Custom objects arrive as plain JSON (`continue`); typed lists as models (`_continue`).
      const key = i % 2 === 0 ? '_continue' : 'continue';
      return {
        apiVersion: 'v1',
        kind: 'List',
        metadata: { resourceVersion: '42', ...(i < sizes.length - 1 ? { [key]: `page${i + 1}` } : {}) },
        items,
      };
    },
  };
}

describe('pagedList', () => {
  it('follows the continue token (either spelling) to the last page; keeps the snapshot version', async () => {
    const src = pages(LIST_PAGE_SIZE, LIST_PAGE_SIZE, 3);
    const all = await pagedList(src.list)();
    expect(all.items).toHaveLength(2 * LIST_PAGE_SIZE + 3);
    expect(all.metadata?.resourceVersion).toBe('42');
    expect(src.asked).toEqual([
      { limit: LIST_PAGE_SIZE },
      { limit: LIST_PAGE_SIZE, _continue: 'page1' },
      { limit: LIST_PAGE_SIZE, _continue: 'page2' },
    ]);
  });

  it('trims every object as its page arrives', async () => {
    const all = await pagedList(pages(2, 1).list, (o: Obj) => ({ metadata: { name: o.metadata?.name } }))();
    expect(all.items).toEqual([
      { metadata: { name: 'o0' } },
      { metadata: { name: 'o1' } },
      { metadata: { name: 'o2' } },
    ]);
  });

  it('asks once for a list that fits one page', async () => {
    const src = pages(0);
    expect((await pagedList(src.list)()).items).toEqual([]);
    expect(src.asked).toHaveLength(1);
  });
});

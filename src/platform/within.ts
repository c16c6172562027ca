/**
 * What `p` came to within `ms`: its value, or `late` when it takes longer. The timer is cleared
 * either way; map a rejection before calling (`p.then(() => true, () => false)`).
 */
export async function within<T, L>(p: Promise<T>, ms: number, late: L): Promise<T | L> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<L>((resolve) => {
    timer = setTimeout(() => resolve(late), ms);
  });
  try {
    return await Promise.race([p, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

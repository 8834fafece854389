//! Spreading one big piece of start-up work over every core: scoped threads, each taking
//! one run of the items, so nothing is shared but the closure.

/// Threads worth starting for `units` of work: one per core, but none for a little work.
pub fn threads_for(units: usize) -> usize {
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    units.clamp(1, cores)
}

/// `items.into_iter().map(f)`, in order, on every core when there are at least
/// `per_thread` items for each.
pub fn map<T: Send, U: Send>(items: Vec<T>, per_thread: usize, f: impl Fn(T) -> U + Sync) -> Vec<U> {
    let threads = threads_for(items.len() / per_thread.max(1));
    if threads == 1 {
        return items.into_iter().map(f).collect();
    }
    let run = items.len().div_ceil(threads);
    let mut items = items.into_iter();
    let runs: Vec<Vec<T>> = (0..threads).map(|_| items.by_ref().take(run).collect()).collect();
    std::thread::scope(|scope| {
        let f = &f;
        let workers: Vec<_> =
            runs.into_iter().map(|run| scope.spawn(move || run.into_iter().map(f).collect::<Vec<U>>())).collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("start-up worker")).collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn maps_every_item_in_order() {
        for n in [0, 1, 7, 1000, 1001] {
            let doubled = super::map((0..n).collect(), 10, |x: u32| x * 2);
            assert_eq!(doubled, (0..n).map(|x| x * 2).collect::<Vec<_>>());
        }
    }
}

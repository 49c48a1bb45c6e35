//! Building a rule set's parts on several threads without letting thread timing decide
//! which error a user sees.

use rayon::prelude::*;

/// `build` applied to every item in parallel; on failure, the error of the first failing
/// item in order, whichever thread met an error first.
pub(crate) fn try_map_in_order<T: Sync, R: Send, E: Send>(
    items: &[T],
    build: impl Fn(&T) -> Result<R, E> + Sync + Send,
) -> Result<Vec<R>, E> {
    let built: Vec<Result<R, E>> = items.par_iter().map(build).collect();
    built.into_iter().collect()
}

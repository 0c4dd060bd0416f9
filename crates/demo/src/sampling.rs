//! Small sampling helpers shared by the generator: a weighted table with binary-search lookup.
//!
//! `rand`'s own `WeightedIndex` would do, but a table that keeps its items next to the cumulative
//! weights reads better for the many static name and prefix tables of this crate.

use rand::Rng;

/// Items with relative weights; [`Weighted::sample`] draws one in proportion to its weight.
#[derive(Debug, Clone)]
pub(crate) struct Weighted<T> {
    items: Vec<T>,
    /// Running sum of the weights, same length as `items`.
    cumulative: Vec<f64>,
}

impl<T: Copy> Weighted<T> {
    /// Builds a table; items with a weight that is not a positive finite number are left out.
    /// Returns `None` when nothing is left to draw from.
    pub(crate) fn new(pairs: impl IntoIterator<Item = (T, f64)>) -> Option<Self> {
        let mut items = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        for (item, weight) in pairs {
            if weight.is_finite() && weight > 0.0 {
                total += weight;
                items.push(item);
                cumulative.push(total);
            }
        }
        (!items.is_empty()).then_some(Weighted { items, cumulative })
    }

    /// Builds a table from a static list whose weights are known to be positive (checked by
    /// tests). An empty list yields a table that can never be sampled, so callers only pass
    /// non-empty constants.
    pub(crate) fn from_table(pairs: &[(T, f64)]) -> Self {
        Self::new(pairs.iter().copied()).unwrap_or(Weighted {
            items: Vec::new(),
            cumulative: Vec::new(),
        })
    }

    /// Draws one item.
    pub(crate) fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> T {
        let total = self.cumulative.last().copied().unwrap_or(0.0);
        let target = rng.random::<f64>() * total;
        let i = self.cumulative.partition_point(|&c| c <= target);
        self.items[i.min(self.items.len() - 1)]
    }

    /// The items, in insertion order.
    pub(crate) fn items(&self) -> &[T] {
        &self.items
    }

    /// Probability of drawing the item at `index` (for tests and documentation).
    #[cfg(test)]
    pub(crate) fn probability(&self, index: usize) -> f64 {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let prev = if index == 0 {
            0.0
        } else {
            self.cumulative[index - 1]
        };
        (self.cumulative[index] - prev) / total
    }
}

/// Picks a uniformly random element of a non-empty slice.
pub(crate) fn pick<T: Copy, R: Rng + ?Sized>(rng: &mut R, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn weighted_draws_follow_the_weights() {
        let table = Weighted::new([('a', 1.0), ('b', 0.0), ('c', 3.0)]).unwrap();
        assert_eq!(table.items(), &['a', 'c']);
        assert!((table.probability(1) - 0.75).abs() < 1e-12);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let n = 40_000;
        let c = (0..n).filter(|_| table.sample(&mut rng) == 'c').count();
        let share = c as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.01, "share of c = {share}");
    }

    #[test]
    fn empty_or_non_positive_tables_are_refused() {
        assert!(Weighted::<u8>::new([]).is_none());
        assert!(Weighted::new([(1u8, 0.0), (2, -1.0), (3, f64::NAN)]).is_none());
    }
}

//! Live windows: the recent values of every monitored column of one model version, as
//! tumbling sub-windows that expire whole.
//!
//! `rows` windows hold the last `window_rows` rows in `sub_windows` equal slices; `time`
//! windows hold the last `sub_windows` × `sub_window_duration`, each slice keeping a
//! uniform sample of at most `window_rows / sub_windows` values per column. Memory is
//! bounded by configuration, never by traffic: at most `window_rows` numeric values per
//! column plus one counter per reference category.
//!
//! The features' window also keeps a uniform sample of whole rows per sub-window (at most
//! `analysis.multivariate.window_rows` over the window) for multivariate drift;
//! [`Window::sampled_rows`] draws from each live sub-window in proportion to its rows.

use crate::config::{AnalysisConfig, WindowKind};
use crate::drift::current::CurrentColumn;
use crate::profile::Profile;
use crate::profile::format::RowCell;
use crate::random::SeededRng;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One slice of a window: one accumulator per monitored column.
pub struct SubWindow {
    opened: Instant,
    rows: u64,
    pub columns: Vec<CurrentColumn>,
    /// Whole rows, for multivariate drift (features only, when it is on).
    pub row_sample: Option<RowReservoir>,
}

/// One row of the tracked columns, as [`crate::drift::current::row_cell`] keeps it.
pub type SampledRow = Vec<Option<RowCell>>;

/// A uniform sample of a sub-window's rows (Algorithm R): [`RowReservoir::slot`] draws
/// first, so a row's cells are copied only when it is kept.
pub struct RowReservoir {
    capacity: usize,
    seen: u64,
    rows: Vec<SampledRow>,
    rng: SeededRng,
}

impl RowReservoir {
    fn new(capacity: usize, seed: u64) -> RowReservoir {
        RowReservoir {
            capacity,
            seen: 0,
            rows: Vec::new(),
            rng: SeededRng::new(seed),
        }
    }

    /// Offers the next row: the slot to [`put`](Self::put) it in, or `None` to skip it.
    #[inline]
    pub fn slot(&mut self) -> Option<usize> {
        self.seen += 1;
        if self.rows.len() < self.capacity {
            return Some(self.rows.len());
        }
        let slot = self.rng.below(self.seen) as usize;
        (slot < self.capacity).then_some(slot)
    }

    /// Stores the row offered last in the slot [`slot`](Self::slot) gave.
    pub fn put(&mut self, slot: usize, row: SampledRow) {
        if slot == self.rows.len() {
            self.rows.push(row);
        } else {
            self.rows[slot] = row;
        }
    }
}

/// The window of one model version.
pub struct Window {
    kind: WindowKind,
    per_sub: usize,
    sub_count: usize,
    sub_duration: Duration,
    /// Positions in the profile of the columns tracked, in order.
    tracked: Vec<usize>,
    subs: VecDeque<SubWindow>,
    seed: u64,
    /// Rows each sub-window samples for multivariate drift (0: none).
    rows_per_sub: usize,
}

impl Window {
    /// A window over `tracked` columns of `profile`.
    pub fn new(config: &AnalysisConfig, profile: &Profile, tracked: Vec<usize>) -> Window {
        let mut window = Window {
            kind: config.window,
            per_sub: (config.window_rows / config.sub_windows).max(1),
            sub_count: config.sub_windows,
            sub_duration: config.sub_window_duration,
            tracked,
            subs: VecDeque::with_capacity(config.sub_windows + 1),
            seed: profile.options.seed,
            rows_per_sub: 0,
        };
        window.open_sub(profile, Instant::now());
        window
    }

    /// Also keeps a uniform sample of at most `rows` whole rows over the window.
    pub fn sample_rows(&mut self, rows: usize) {
        self.rows_per_sub = rows.div_ceil(self.sub_count.max(1));
        let seed = self.seed;
        for sub in &mut self.subs {
            sub.row_sample = Some(RowReservoir::new(self.rows_per_sub, seed));
        }
    }

    /// A uniform sample of the window's rows, at most the cap given to
    /// [`sample_rows`](Self::sample_rows): every sub-window gives rows in proportion to
    /// the rows it saw (a time window's busy slice is not under-represented).
    pub fn sampled_rows(&self) -> Vec<SampledRow> {
        let samples: Vec<&RowReservoir> = self
            .subs
            .iter()
            .filter_map(|s| s.row_sample.as_ref())
            .filter(|r| r.seen > 0)
            .collect();
        // The smallest share any sub-window kept is the share taken from each.
        let share = samples
            .iter()
            .map(|r| r.rows.len() as f64 / r.seen as f64)
            .fold(1.0, f64::min);
        let mut rng = SeededRng::new(self.seed);
        let mut out = Vec::new();
        for sample in samples {
            let take = ((sample.seen as f64 * share).round() as usize).min(sample.rows.len());
            // A partial Fisher–Yates: reservoir slots are not in random order.
            let mut order: Vec<usize> = (0..sample.rows.len()).collect();
            for i in 0..take {
                let j = i + rng.below((order.len() - i) as u64) as usize;
                order.swap(i, j);
            }
            out.extend(order[..take].iter().map(|&i| sample.rows[i].clone()));
        }
        out
    }

    fn open_sub(&mut self, profile: &Profile, now: Instant) {
        self.seed = self.seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let columns = self
            .tracked
            .iter()
            .enumerate()
            .map(|(i, &p)| {
                CurrentColumn::new(i, &profile.columns[p], self.per_sub, self.seed ^ p as u64)
            })
            .collect();
        let row_sample =
            (self.rows_per_sub > 0).then(|| RowReservoir::new(self.rows_per_sub, self.seed));
        self.subs.push_back(SubWindow {
            opened: now,
            rows: 0,
            columns,
            row_sample,
        });
        while self.subs.len() > self.sub_count {
            self.subs.pop_front();
        }
    }

    /// The sub-window new rows go to, rotating when the current one is full or expired.
    pub fn current(&mut self, profile: &Profile, now: Instant) -> &mut SubWindow {
        let rotate = {
            let sub = self.subs.back().expect("a window always has a sub-window");
            match self.kind {
                WindowKind::Rows => sub.rows >= self.per_sub as u64,
                WindowKind::Time => now.duration_since(sub.opened) >= self.sub_duration,
            }
        };
        if rotate {
            self.open_sub(profile, now);
        }
        self.subs
            .back_mut()
            .expect("a window always has a sub-window")
    }

    /// Drops time sub-windows that have expired with no traffic to rotate them.
    pub fn expire(&mut self, profile: &Profile, now: Instant) {
        if self.kind == WindowKind::Time {
            let horizon = self.sub_duration * self.sub_count as u32;
            self.subs.retain(|s| now.duration_since(s.opened) < horizon);
            if self.subs.is_empty() {
                self.open_sub(profile, now);
            }
        }
    }

    /// Every tracked column merged over the live sub-windows, with the row count.
    pub fn merged(&self, profile: &Profile) -> (u64, Vec<CurrentColumn>) {
        let capacity = self.per_sub * self.sub_count;
        let mut merged: Vec<CurrentColumn> = self
            .tracked
            .iter()
            .enumerate()
            .map(|(i, &p)| CurrentColumn::new(i, &profile.columns[p], capacity, self.seed))
            .collect();
        let mut rows = 0;
        for sub in &self.subs {
            rows += sub.rows;
            for (m, c) in merged.iter_mut().zip(&sub.columns) {
                m.absorb(c);
            }
        }
        (rows, merged)
    }

    /// Positions in the profile of the tracked columns.
    pub fn tracked(&self) -> &[usize] {
        &self.tracked
    }
}

impl SubWindow {
    /// Counts one row (call once per row, after pushing its values).
    pub fn end_row(&mut self) {
        self.rows += 1;
    }
}

#[cfg(test)]
pub(super) mod tests;

//! Live windows: the recent values of every monitored column of one model version, as
//! tumbling sub-windows that expire whole.
//!
//! `rows` windows hold the last `window_rows` rows in `sub_windows` equal slices; `time`
//! windows hold the last `sub_windows` × `sub_window_duration`, each slice keeping a
//! uniform sample of at most `window_rows / sub_windows` values per column. Memory is
//! bounded by configuration, never by traffic: at most `window_rows` numeric values per
//! column plus one counter per reference category.

use crate::config::{AnalysisConfig, WindowKind};
use crate::drift::current::CurrentColumn;
use crate::profile::Profile;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One slice of a window: one accumulator per monitored column.
pub struct SubWindow {
    opened: Instant,
    rows: u64,
    pub columns: Vec<CurrentColumn>,
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
        };
        window.open_sub(profile, Instant::now());
        window
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
        self.subs.push_back(SubWindow {
            opened: now,
            rows: 0,
            columns,
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
mod tests;

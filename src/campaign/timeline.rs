//! Progress over time, for charts: about one sample per second, at most
//! [`MAX_SAMPLES`] (when full, every other sample is dropped and the
//! interval doubles, so a long campaign keeps an even sampling).

use super::tally::CampaignSummary;
use serde::{Deserialize, Serialize};

/// The most samples kept.
pub const MAX_SAMPLES: usize = 2000;

/// One sample.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the campaign started (over every session).
    pub elapsed_s: f64,
    /// Cases run.
    pub programs: u64,
    /// Cases with a new divergence.
    pub diverge_new: u64,
    /// Cases whose divergences are all known.
    pub diverge_known: u64,
}

impl Sample {
    /// The sample of `s` now.
    pub fn of(s: &CampaignSummary) -> Sample {
        Sample {
            elapsed_s: s.elapsed.as_secs_f64(),
            programs: s.programs,
            diverge_new: s.diverge_new,
            diverge_known: s.diverge_known,
        }
    }
}

/// The samples and the current interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timeline {
    /// The samples, oldest first.
    pub samples: Vec<Sample>,
    /// Seconds between samples.
    pub interval_s: f64,
}

impl Default for Timeline {
    fn default() -> Timeline {
        Timeline {
            samples: Vec::new(),
            interval_s: 1.0,
        }
    }
}

impl Timeline {
    /// Keeps `sample` when the interval has passed since the last one.
    pub fn sample(&mut self, sample: Sample) {
        let due = self
            .samples
            .last()
            .is_none_or(|l| sample.elapsed_s - l.elapsed_s >= self.interval_s);
        if due {
            self.push(sample);
        }
    }

    /// Keeps `sample`.
    pub fn sample_now(&mut self, sample: Sample) {
        self.push(sample);
    }

    fn push(&mut self, sample: Sample) {
        self.samples.push(sample);
        if self.samples.len() > MAX_SAMPLES {
            let mut i = 0;
            self.samples.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.interval_s *= 2.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_timeline_is_downsampled() {
        let mut t = Timeline::default();
        for i in 0..10_000u64 {
            t.push(Sample {
                elapsed_s: i as f64,
                programs: i,
                diverge_new: 0,
                diverge_known: 0,
            });
        }
        assert!(t.samples.len() <= MAX_SAMPLES);
        assert!(t.samples.len() > MAX_SAMPLES / 4);
        assert_eq!(t.samples[0].programs, 0);
        assert!(t.samples.windows(2).all(|w| w[0].programs < w[1].programs));
    }
}

//! Rows grouped into points: the rows of one (sweep, input, output, concurrency) are the
//! repeats of one point. A metric of a group is the median of its `ok` repeats, with the
//! spread between them (min and max), so charts and verdicts can tell a change from noise.

use super::{Metric, Row};

/// What makes rows the same point: sweep, input length, output length, concurrency.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub sweep: String,
    pub input_len: u64,
    pub output_len: u64,
    pub concurrency: u64,
}

impl Key {
    pub fn of(r: &Row) -> Key {
        Key {
            sweep: r.sweep.clone(),
            input_len: r.input_len,
            output_len: r.output_len,
            concurrency: r.concurrency,
        }
    }
}

/// The rows of one point, in the order given.
#[derive(Debug, Clone)]
pub struct Group<'a> {
    pub key: Key,
    pub rows: Vec<&'a Row>,
}

/// A metric over the `ok` repeats of a point: median, min, max and how many values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    /// From finite values; `None` when there are none.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }

    /// The spread between repeats relative to the median (`(max − min) / median`); 0 for a
    /// single value.
    pub fn relative(&self) -> f64 {
        if self.median.abs() > 0.0 {
            (self.max - self.min) / self.median.abs()
        } else {
            0.0
        }
    }
}

impl Group<'_> {
    /// The metric over this point's `ok` repeats.
    pub fn metric(&self, m: Metric) -> Option<Spread> {
        let values: Vec<f64> = self.ok().filter_map(|r| r.metric(m)).collect();
        Spread::of(&values)
    }

    /// The repeats that passed.
    pub fn ok(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().copied().filter(|r| r.status == "ok")
    }

    /// `ok` when every repeat passed; otherwise the first status that is not `ok`.
    pub fn status(&self) -> &str {
        self.rows
            .iter()
            .find(|r| r.status != "ok")
            .map_or("ok", |r| r.status.as_str())
    }

    /// The reasons of the repeats that did not pass, each once.
    pub fn reasons(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for r in &self.rows {
            if let Some(why) = r.reason.as_deref()
                && r.status != "ok"
                && !out.contains(&why)
            {
                out.push(why);
            }
        }
        out
    }
}

/// Group rows by point, in first-seen order.
pub fn group(rows: &[Row]) -> Vec<Group<'_>> {
    let mut out: Vec<Group<'_>> = Vec::new();
    for r in rows {
        let k = Key::of(r);
        match out.iter_mut().find(|g| g.key == k) {
            Some(g) => g.rows.push(r),
            None => out.push(Group {
                key: k,
                rows: vec![r],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_median_min_max() {
        let s = Spread::of(&[3.0, 1.0, 2.0, f64::NAN]).expect("values");
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert!((s.relative() - 1.0).abs() < 1e-12);
        let even = Spread::of(&[1.0, 2.0, 3.0, 10.0]).expect("values");
        assert_eq!(even.median, 2.5);
        assert!(Spread::of(&[]).is_none());
        assert_eq!(Spread::of(&[5.0]).expect("one").relative(), 0.0);
    }
}

//! Bar charts as SVG, drawn by an askama template (`templates/chart.html`,
//! auto-escaped like every page): the numbers are worked out here, the
//! markup and every label are the template's, with a y axis with ticks, an
//! x axis with a label per bar, both axes named, and a legend.

/// A bar chart, every coordinate worked out.
pub struct Chart {
    /// Unique on the page (`id` attributes).
    pub id: String,
    pub title: String,
    pub caption: String,
    pub x_label: String,
    pub y_label: String,
    pub width: i64,
    pub height: i64,
    /// The plot area: x of the y axis, y of its top and of the x axis.
    pub left: i64,
    pub top: i64,
    pub base: i64,
    pub ticks: Vec<Tick>,
    pub bars: Vec<Bar>,
    pub legend: Vec<Legend>,
    /// A target drawn as a dashed line across the plot, with its label.
    pub target: Option<Tick>,
    /// The value at the top of the y axis.
    pub scale_top: i64,
}

pub struct Tick {
    pub y: i64,
    pub label: String,
}

pub struct Bar {
    pub label: String,
    /// The centre of the bar.
    pub cx: i64,
    /// The total shown above the bar, and where.
    pub shown: String,
    pub shown_y: i64,
    pub segments: Vec<Segment>,
}

pub struct Segment {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    pub fill: &'static str,
    /// The hover text: bar label, series and amount.
    pub title: String,
}

pub struct Legend {
    pub x: i64,
    pub fill: &'static str,
    pub label: String,
}

/// One series of a chart: its colour and name.
pub struct Series {
    pub fill: &'static str,
    pub name: &'static str,
}

/// One bar: its label and each series' value (stacked in series order).
pub struct Datum {
    pub label: String,
    pub values: Vec<i64>,
}

/// Axis labels, titles and how a value is written.
pub struct Labels<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub caption: &'a str,
    pub x: &'a str,
    pub y: &'a str,
}

const PLOT: i64 = 160;
const BAR: i64 = 40;
const STEP: i64 = 56;

/// A round top for the y axis at or above `max`, in four equal steps.
fn nice_top(max: i64) -> i64 {
    let max = max.max(1);
    let raw = (max + 3) / 4;
    let magnitude = 10i64.pow(raw.max(1).ilog10());
    let step = [1, 2, 5, 10].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    step * 4
}

impl Chart {
    /// A (stacked) bar chart. `top` fixes the y axis's top (100% for a
    /// share); otherwise it is rounded up from the largest bar.
    pub fn bars(
        labels: Labels<'_>,
        series: &[Series],
        data: &[Datum],
        top: Option<i64>,
        fmt: impl Fn(i64) -> String,
    ) -> Chart {
        let left = 72;
        let top_y = 16;
        let base = top_y + PLOT;
        let max = top.unwrap_or_else(|| {
            nice_top(data.iter().map(|d| d.values.iter().sum::<i64>()).max().unwrap_or(0))
        });
        let max = max.max(1);
        let width = left + 16 + data.len() as i64 * STEP;
        let height = base + 80;
        let ticks =
            (0..=4).map(|i| Tick { y: base - PLOT * i / 4, label: fmt(max * i / 4) }).collect();
        let bars = data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let x = left + 8 + i as i64 * STEP;
                let mut y = base;
                let segments = d
                    .values
                    .iter()
                    .zip(series)
                    .map(|(v, s)| {
                        let h = (v * PLOT / max).clamp(0, PLOT);
                        y -= h;
                        Segment {
                            x,
                            y,
                            width: BAR,
                            height: h,
                            fill: s.fill,
                            title: if series.len() > 1 {
                                format!("{}: {} {}", d.label, s.name, fmt(*v))
                            } else {
                                format!("{}: {}", d.label, fmt(*v))
                            },
                        }
                    })
                    .collect();
                Bar {
                    label: d.label.clone(),
                    cx: x + BAR / 2,
                    shown: fmt(d.values.iter().sum()),
                    shown_y: (y - 4).max(10),
                    segments,
                }
            })
            .collect();
        let legend = if series.len() > 1 {
            series
                .iter()
                .enumerate()
                .map(|(i, s)| Legend {
                    x: left + i as i64 * 110,
                    fill: s.fill,
                    label: s.name.into(),
                })
                .collect()
        } else {
            Vec::new()
        };
        Chart {
            id: labels.id.to_string(),
            title: labels.title.to_string(),
            caption: labels.caption.to_string(),
            x_label: labels.x.to_string(),
            y_label: labels.y.to_string(),
            width,
            height,
            left,
            top: top_y,
            base,
            ticks,
            bars,
            legend,
            target: None,
            scale_top: max,
        }
    }

    /// The same chart with a target at `value` (on the y axis's scale),
    /// drawn as a dashed line labelled `label`.
    pub fn with_target(mut self, value: i64, label: String) -> Chart {
        let y = self.base - (value * PLOT / self.scale_top.max(1)).clamp(0, PLOT);
        self.target = Some(Tick { y, label });
        self
    }

    /// Where the axis names and legend go.
    pub fn x_label_y(&self) -> i64 {
        self.base + 40
    }
    pub fn legend_y(&self) -> i64 {
        self.base + 58
    }
    pub fn mid_x(&self) -> i64 {
        (self.left + self.width) / 2
    }
    pub fn mid_y(&self) -> i64 {
        (self.top + self.base) / 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_y_axis_tops_out_at_a_round_number() {
        assert_eq!(nice_top(0), 4);
        assert_eq!(nice_top(3), 4);
        assert_eq!(nice_top(7), 8);
        assert_eq!(nice_top(37), 40);
        assert_eq!(nice_top(123_456), 200_000);
    }
}

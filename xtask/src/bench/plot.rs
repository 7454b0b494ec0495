//! Grouped bar charts as standalone SVG, written by hand: the benchmark report needs one
//! kind of chart, a plotting crate would be the only dependency of xtask for it, and plain
//! SVG text renders on GitHub and in any browser.
//!
//! Layout, top to bottom: the title, the legend (one swatch per series, wrapping onto more
//! rows when needed), the plot (y axis with ticks and gridlines on the left, an optional
//! dashed reference line labelled in the right margin), the group labels under the x axis.
//! Text widths are estimated, not measured, so every margin keeps some slack.

/// One bar: the median of repeated runs, with the lowest and highest run as a whisker.
pub struct Bar {
    pub value: f64,
    pub low: f64,
    pub high: f64,
}

/// Bars of one group (e.g. one scenario), one per series (peer) in `Chart::series` order;
/// `None` where that series has no figure (skipped peer) — leave a gap, draw nothing.
pub struct Group {
    pub label: String,
    pub bars: Vec<Option<Bar>>,
}

pub struct Chart {
    pub title: String,
    /// Axis label, e.g. "proxy CPU µs per request (lower is better)".
    pub y_label: String,
    /// Legend names, one per series (e.g. "nginx", "nginx+Lua", "HAProxy", "Pingora", "portcullis").
    pub series: Vec<String>,
    pub groups: Vec<Group>,
    /// A horizontal reference line (e.g. 1.0 on a ratio chart), labelled.
    pub reference: Option<(f64, String)>,
    /// Logarithmic y axis (for values spanning decades, e.g. latency of 100 B vs 1 MiB).
    pub log_scale: bool,
}

/// Okabe–Ito: told apart under the common colour-vision deficiencies. Reordered so the first
/// five series (the usual peers) get strong, distinct hues; yellow, faint on white, comes late.
const PALETTE: [&str; 8] = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"];

/// Horizontal room per bar; the bar itself is narrower so neighbours do not touch.
const BAR_SLOT: f64 = 40.0;
const BAR_WIDTH: f64 = 32.0;
/// Space between groups, split half on each side of a group.
const GROUP_GAP: f64 = 28.0;
/// The document's height, so charts of one report line up; the plot gets what the title,
/// legend and group labels leave, but never less than `MIN_PLOT_HEIGHT` (then the document
/// grows instead: very long turned labels, a legend of many rows).
const HEIGHT: f64 = 400.0;
const MIN_PLOT_HEIGHT: f64 = 180.0;
/// Below these the title, legend and axis look cramped, even for one group.
const MIN_PLOT_WIDTH: f64 = 240.0;
const MIN_WIDTH: f64 = 480.0;

const TITLE_FONT: f64 = 15.0;
const FONT: f64 = 12.0;
const TICK_FONT: f64 = 11.0;
const VALUE_FONT: f64 = 10.0;
/// Average advance of a sans-serif glyph, in em: used to estimate text widths.
const CHAR_EM: f64 = 0.55;
/// Long group labels are turned by this much (counter-clockwise) to fit under their group.
const LABEL_ANGLE: f64 = 35.0;

/// Baseline of the title and top of the first legend row.
const TITLE_Y: f64 = 26.0;
const LEGEND_TOP: f64 = 40.0;
const LEGEND_ROW: f64 = 18.0;
const SWATCH: f64 = 12.0;
/// Between the legend and the plot: room for the value printed above the tallest bar.
const ABOVE_PLOT: f64 = 20.0;
const MARGIN: f64 = 16.0;

/// Log axes show at most this many decades, so a stray tiny value cannot flatten the rest.
const MAX_DECADES: i32 = 12;
/// Values beyond this are treated as absent: the axis arithmetic would overflow or underflow.
const LIMIT: f64 = 1e300;

/// The chart as a standalone SVG document (UTF-8 text starting with `<svg` and ending with
/// `</svg>`, no trailing newline).
pub fn grouped_bars(chart: &Chart) -> String {
    let scale = Scale::for_chart(chart);
    let layout = Layout::new(chart, &scale);
    let (w, h) = (num(layout.width), num(layout.height));
    let mut out = String::new();
    out.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" \
         font-family=\"sans-serif\" role=\"img\" aria-label=\"{}\">\n",
        escape(&chart.title)
    ));
    out.push_str(&format!("<rect x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\" fill=\"#ffffff\"/>\n"));
    text(
        &mut out,
        layout.width / 2.0,
        TITLE_Y,
        TITLE_FONT,
        "middle",
        "font-weight=\"bold\" class=\"title\"",
        &chart.title,
    );
    legend(&mut out, chart, &layout);
    axes(&mut out, chart, &scale, &layout);
    for (index, group) in chart.groups.iter().enumerate() {
        bars(&mut out, chart, group, index, &scale, &layout);
    }
    group_labels(&mut out, chart, &layout);
    if let Some((value, label)) = &chart.reference {
        reference(&mut out, *value, label, &scale, &layout);
    }
    out.push_str("</svg>");
    out
}

/// Maps data values onto the plot's height, as a fraction from the bottom (0) to the top (1).
enum Scale {
    /// From 0 to `ticks`' last entry.
    Linear { ticks: Vec<f64> },
    /// From 10^`low` to 10^`high`.
    Log { low: i32, high: i32 },
}

impl Scale {
    /// Fits the axis to every value the chart draws: bars, whiskers and the reference line.
    fn for_chart(chart: &Chart) -> Scale {
        let values = chart_values(chart);
        if chart.log_scale {
            let positive = values.filter(|v| *v > 0.0);
            let (min, max) = positive.fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
            let (low, high) = if max > 0.0 { decades(min, max) } else { (0, 1) };
            Scale::Log { low, high }
        } else {
            let max = values.fold(0.0_f64, f64::max);
            Scale::Linear { ticks: linear_ticks(max) }
        }
    }

    /// Where `value` sits, clamped to the axis; `None` when it cannot be shown at all (not a
    /// number, or not positive on a log axis).
    fn fraction(&self, value: f64) -> Option<f64> {
        if !value.is_finite() || value.abs() > LIMIT {
            return None;
        }
        let fraction = match self {
            Scale::Linear { ticks } => {
                let top = ticks.last().copied().unwrap_or(1.0);
                value.max(0.0) / top
            }
            Scale::Log { low, high } => {
                if value <= 0.0 {
                    return None;
                }
                (value.log10() - f64::from(*low)) / f64::from(high - low)
            }
        };
        Some(fraction.clamp(0.0, 1.0))
    }

    /// Values of the gridlines, bottom to top.
    fn ticks(&self) -> Vec<f64> {
        match self {
            Scale::Linear { ticks } => ticks.clone(),
            Scale::Log { low, high } => (*low..=*high).map(|k| 10f64.powi(k)).collect(),
        }
    }
}

/// Every finite value the chart would draw, for fitting the axis.
fn chart_values(chart: &Chart) -> impl Iterator<Item = f64> + '_ {
    let bars = chart.groups.iter().flat_map(|g| g.bars.iter().flatten());
    // Whiskers only count for bars that are drawn.
    let bar_values = bars.filter(|b| usable(b.value)).flat_map(|b| [b.value, b.low, b.high]);
    let reference = chart.reference.iter().map(|(value, _)| *value);
    bar_values.chain(reference).filter(|v| usable(*v))
}

fn usable(value: f64) -> bool {
    value.is_finite() && value.abs() <= LIMIT
}

/// Ticks for a linear axis from 0 covering `max`: the smallest step of 1, 2, 2.5 or 5 × 10^k
/// that needs at most 5 intervals. The next smaller step needs at least 6, so the chosen
/// one needs at least 3: 4 to 6 ticks.
fn linear_ticks(max: f64) -> Vec<f64> {
    // Nothing positive to show: a unit axis rather than a degenerate one.
    let max = if usable(max) && max >= 1e-300 { max } else { 1.0 };
    let exponent = (max / 5.0).log10().floor() as i32;
    let steps = (exponent - 1..=exponent + 1).flat_map(|k| [1.0, 2.0, 2.5, 5.0].map(|m| m * 10f64.powi(k)));
    // Tolerance: 0.6 / 0.2 is 3.0000000000000004 in floating point, and must count as 3.
    let intervals = |step: f64| (max / step - 1e-9).ceil();
    let step = steps.into_iter().find(|step| intervals(*step) <= 5.0).unwrap_or(10f64.powi(exponent + 2));
    let count = intervals(step).max(1.0) as u32;
    (0..=count).map(|i| f64::from(i) * step).collect()
}

/// Decades (powers of ten) of a log axis covering `min..=max` (both positive): at least one,
/// at most `MAX_DECADES`, dropping the lowest ones beyond that.
fn decades(min: f64, max: f64) -> (i32, i32) {
    // Tolerance: an exact power of ten must not open an extra decade.
    let low = (min.log10() + 1e-9).floor() as i32;
    let high = (max.log10() - 1e-9).ceil() as i32;
    let high = high.max(low + 1);
    (low.max(high - MAX_DECADES), high)
}

/// Positions of everything, fixed before drawing so margins can depend on the text.
struct Layout {
    width: f64,
    height: f64,
    plot_left: f64,
    plot_top: f64,
    plot_width: f64,
    plot_height: f64,
    /// Bar positions per group: at least one, and enough for the longest group.
    slots: usize,
    /// Left edge of the first group, so few groups sit centred in a wider plot.
    groups_left: f64,
    rotate_labels: bool,
    /// Per series: the top-left corner of its swatch.
    legend: Vec<(f64, f64)>,
    tick_labels: Vec<String>,
}

impl Layout {
    fn new(chart: &Chart, scale: &Scale) -> Layout {
        let longest_bars = chart.groups.iter().map(|g| g.bars.len()).max().unwrap_or(0);
        let slots = chart.series.len().max(longest_bars).max(1);
        let group_width = slots as f64 * BAR_SLOT;
        let pitch = group_width + GROUP_GAP;
        let groups_width = chart.groups.len() as f64 * pitch;

        let label_widths: Vec<f64> = chart.groups.iter().map(|g| text_width(&g.label, FONT)).collect();
        let longest_label = label_widths.iter().copied().fold(0.0, f64::max);
        let rotate_labels = longest_label > pitch - 8.0;
        let (sin, cos) = LABEL_ANGLE.to_radians().sin_cos();

        let tick_labels: Vec<String> = scale.ticks().into_iter().map(format_number).collect();
        let widest_tick = tick_labels.iter().map(|t| text_width(t, TICK_FONT)).fold(0.0, f64::max);
        // The y label (rotated, one line high), the tick labels, and some air.
        let mut plot_left = MARGIN + FONT + 10.0 + widest_tick + 8.0;
        if rotate_labels {
            // A turned label reaches left of its group's centre; keep the first one on the page.
            let first = label_widths.first().copied().unwrap_or(0.0);
            let reach = first * cos - GROUP_GAP / 2.0 - group_width / 2.0;
            plot_left = plot_left.max(reach + 6.0);
        }
        let right = match &chart.reference {
            Some((_, label)) => MARGIN + 6.0 + text_width(label, TICK_FONT),
            None => MARGIN,
        };

        let mut plot_width = groups_width.max(MIN_PLOT_WIDTH);
        let min_width = MIN_WIDTH.max(text_width(&chart.title, TITLE_FONT) + 2.0 * MARGIN);
        plot_width += (min_width - (plot_left + plot_width + right)).max(0.0);
        let width = plot_left + plot_width + right;
        let groups_left = plot_left + (plot_width - groups_width) / 2.0;

        let (legend, rows) = legend_positions(&chart.series, plot_left, width - MARGIN);
        let plot_top = LEGEND_TOP + rows as f64 * LEGEND_ROW + ABOVE_PLOT;
        let below = if rotate_labels { 14.0 + longest_label * sin + FONT * cos + 8.0 } else { 18.0 + FONT + 8.0 };
        let plot_height = (HEIGHT - plot_top - below).max(MIN_PLOT_HEIGHT);
        let height = plot_top + plot_height + below;
        Layout {
            width,
            height,
            plot_left,
            plot_top,
            plot_width,
            plot_height,
            slots,
            groups_left,
            rotate_labels,
            legend,
            tick_labels,
        }
    }

    fn plot_bottom(&self) -> f64 {
        self.plot_top + self.plot_height
    }

    fn plot_right(&self) -> f64 {
        self.plot_left + self.plot_width
    }

    /// The y coordinate of a fraction of the plot's height.
    fn y(&self, fraction: f64) -> f64 {
        self.plot_bottom() - fraction * self.plot_height
    }

    /// Left edge of group `index`'s first bar slot.
    fn group_x(&self, index: usize) -> f64 {
        let pitch = self.slots as f64 * BAR_SLOT + GROUP_GAP;
        self.groups_left + index as f64 * pitch + GROUP_GAP / 2.0
    }

    fn group_centre(&self, index: usize) -> f64 {
        self.group_x(index) + self.slots as f64 * BAR_SLOT / 2.0
    }
}

/// Swatch corners for the legend entries, in rows centred between `left` and `right` (the
/// plot's left edge, so the legend never runs into the y label), and the number of rows.
fn legend_positions(series: &[String], left: f64, right: f64) -> (Vec<(f64, f64)>, usize) {
    let item_width = |name: &String| SWATCH + 5.0 + text_width(name, FONT);
    const SPACING: f64 = 18.0;
    // Split into rows first: centring a row needs its full width.
    let mut rows: Vec<Vec<f64>> = Vec::new();
    let mut row_width = 0.0;
    for name in series {
        let width = item_width(name);
        match rows.last_mut() {
            Some(row) if row_width + SPACING + width <= right - left => {
                row.push(width);
                row_width += SPACING + width;
            }
            _ => {
                rows.push(vec![width]);
                row_width = width;
            }
        }
    }
    let mut positions = Vec::with_capacity(series.len());
    for (index, row) in rows.iter().enumerate() {
        let total = row.iter().sum::<f64>() + SPACING * (row.len() as f64 - 1.0);
        let mut x = left + ((right - left - total) / 2.0).max(0.0);
        let y = LEGEND_TOP + index as f64 * LEGEND_ROW;
        for width in row {
            positions.push((x, y));
            x += width + SPACING;
        }
    }
    (positions, rows.len())
}

fn legend(out: &mut String, chart: &Chart, layout: &Layout) {
    out.push_str("<g class=\"legend\">\n");
    for (index, (name, (x, y))) in chart.series.iter().zip(&layout.legend).enumerate() {
        out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n",
            num(*x),
            num(*y),
            num(SWATCH),
            num(SWATCH),
            colour(index)
        ));
        text(out, x + SWATCH + 5.0, y + SWATCH - 1.5, FONT, "start", "", name);
    }
    out.push_str("</g>\n");
}

/// Gridlines with their tick labels, the two axis lines, and the y label.
fn axes(out: &mut String, chart: &Chart, scale: &Scale, layout: &Layout) {
    let (left, right) = (layout.plot_left, layout.plot_right());
    out.push_str("<g class=\"axis\">\n");
    for (tick, label) in scale.ticks().into_iter().zip(&layout.tick_labels) {
        let Some(fraction) = scale.fraction(tick) else { continue };
        let y = layout.y(fraction);
        // The bottom gridline is the x axis, drawn below in a darker grey.
        if fraction > 0.0 {
            line(out, left, y, right, y, "#dddddd", "");
        }
        text(out, left - 6.0, y + TICK_FONT * 0.35, TICK_FONT, "end", "fill=\"#444444\" class=\"tick\"", label);
    }
    let bottom = layout.plot_bottom();
    line(out, left, layout.plot_top, left, bottom, "#666666", "");
    line(out, left, bottom, right, bottom, "#666666", "");
    // Shrunk when longer than the plot is high, rather than running into the legend.
    let fit = (layout.plot_height + 30.0) / (CHAR_EM * chart.y_label.chars().count().max(1) as f64);
    let size = fit.clamp(8.0, FONT);
    let (x, y) = (MARGIN + size * 0.5, layout.plot_top + layout.plot_height / 2.0);
    let turn = format!("transform=\"rotate(-90 {} {})\" class=\"y-label\"", num(x), num(y));
    text(out, x, y, size, "middle", &turn, &chart.y_label);
    out.push_str("</g>\n");
}

/// One group's bars, each with its whisker and its value above.
fn bars(out: &mut String, chart: &Chart, group: &Group, index: usize, scale: &Scale, layout: &Layout) {
    out.push_str("<g class=\"group\">\n");
    for (slot, bar) in group.bars.iter().enumerate() {
        let Some(bar) = bar else { continue };
        let Some(fraction) = scale.fraction(bar.value) else { continue };
        let centre = layout.group_x(index) + (slot as f64 + 0.5) * BAR_SLOT;
        let top = layout.y(fraction);
        let series = chart.series.get(slot).cloned().unwrap_or_else(|| format!("series {}", slot + 1));
        out.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"><title>{}</title></rect>\n",
            num(centre - BAR_WIDTH / 2.0),
            num(top),
            num(BAR_WIDTH),
            num(layout.plot_bottom() - top),
            colour(slot),
            escape(&tooltip(&series, &group.label, bar))
        ));
        let mut label_y = top;
        if let Some((low, high)) = whisker(bar, scale) {
            let (y_low, y_high) = (layout.y(low), layout.y(high));
            let cap = |y: f64| format!("M{} {}H{}", num(centre - 5.0), num(y), num(centre + 5.0));
            out.push_str(&format!(
                "<path class=\"whisker\" d=\"M{} {}V{}{}{}\" stroke=\"#222222\" stroke-width=\"1.2\" fill=\"none\"/>\n",
                num(centre),
                num(y_low),
                num(y_high),
                cap(y_low),
                cap(y_high)
            ));
            label_y = label_y.min(y_high);
        }
        text(
            out,
            centre,
            label_y - 4.0,
            VALUE_FONT,
            "middle",
            // A white halo keeps the figure readable where a gridline or the reference line
            // runs through it.
            "fill=\"#222222\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\" class=\"value\"",
            &format_number(bar.value),
        );
    }
    out.push_str("</g>\n");
}

/// The whisker's ends as fractions of the plot's height, when there is one: both ends are
/// numbers and they differ. A low end that a log axis cannot show sits on the axis.
fn whisker(bar: &Bar, scale: &Scale) -> Option<(f64, f64)> {
    if !usable(bar.low) || !usable(bar.high) || bar.low == bar.high {
        return None;
    }
    let (low, high) = (bar.low.min(bar.high), bar.low.max(bar.high));
    Some((scale.fraction(low).unwrap_or(0.0), scale.fraction(high).unwrap_or(0.0)))
}

/// Shown by browsers on hover: the exact figures behind a bar.
fn tooltip(series: &str, group: &str, bar: &Bar) -> String {
    let mut tip = format!("{series}, {group}: {}", format_number(bar.value));
    if usable(bar.low) && usable(bar.high) && bar.low != bar.high {
        tip.push_str(&format!(" (runs {} to {})", format_number(bar.low), format_number(bar.high)));
    }
    tip
}

/// Group labels under the x axis: centred, or turned and ending under the group's centre
/// when one of them is wider than its group.
fn group_labels(out: &mut String, chart: &Chart, layout: &Layout) {
    out.push_str("<g class=\"x-labels\">\n");
    for (index, group) in chart.groups.iter().enumerate() {
        let centre = layout.group_centre(index);
        if layout.rotate_labels {
            let (x, y) = (centre + 4.0, layout.plot_bottom() + 14.0);
            let turn = format!("transform=\"rotate(-{LABEL_ANGLE} {} {})\"", num(x), num(y));
            text(out, x, y, FONT, "end", &turn, &group.label);
        } else {
            text(out, centre, layout.plot_bottom() + 18.0, FONT, "middle", "", &group.label);
        }
    }
    out.push_str("</g>\n");
}

/// A dashed line across the plot, labelled in the right margin where no bar can hide it.
fn reference(out: &mut String, value: f64, label: &str, scale: &Scale, layout: &Layout) {
    let Some(fraction) = scale.fraction(value) else { return };
    let y = layout.y(fraction);
    out.push_str("<g class=\"reference\">\n");
    line(out, layout.plot_left, y, layout.plot_right(), y, "#333333", " stroke-dasharray=\"6 4\"");
    text(out, layout.plot_right() + 6.0, y + TICK_FONT * 0.35, TICK_FONT, "start", "fill=\"#333333\"", label);
    out.push_str("</g>\n");
}

fn line(out: &mut String, x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, extra: &str) {
    out.push_str(&format!(
        "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{stroke}\" stroke-width=\"1\"{extra}/>\n",
        num(x1),
        num(y1),
        num(x2),
        num(y2)
    ));
}

/// A `<text>` element; `attributes` are written as given, `content` is escaped.
fn text(out: &mut String, x: f64, y: f64, size: f64, anchor: &str, attributes: &str, content: &str) {
    let space = if attributes.is_empty() { "" } else { " " };
    out.push_str(&format!(
        "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{anchor}\"{space}{attributes}>{}</text>\n",
        num(x),
        num(y),
        num(size),
        escape(content)
    ));
}

fn colour(series: usize) -> &'static str {
    PALETTE[series % PALETTE.len()]
}

/// Rough width of `text` at `size` px: enough to size margins, not to align glyphs.
fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * CHAR_EM
}

/// A coordinate with at most one decimal ("12", "12.5"), and "0" for anything not finite so
/// a bug upstream cannot put `NaN` into the document.
fn num(value: f64) -> String {
    if !value.is_finite() {
        return "0".to_string();
    }
    let text = format!("{value:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// A figure for people: 3 significant digits ("37.5", "0.00123"), whole numbers from 100 up
/// ("1235", no separators), powers of ten beyond a million or below a thousandth ("2.5e6").
fn format_number(value: f64) -> String {
    if !value.is_finite() {
        return "–".to_string();
    }
    if value == 0.0 {
        return "0".to_string();
    }
    let mut magnitude = value.abs().log10().floor() as i32;
    if !(-3..6).contains(&magnitude) {
        let mut mantissa = value / 10f64.powi(magnitude);
        // 9.996e6 rounds to 10.0e6: carry into the exponent.
        if (mantissa.abs() * 100.0).round() >= 1000.0 {
            magnitude += 1;
            mantissa = value / 10f64.powi(magnitude);
        }
        return format!("{}e{magnitude}", trim_zeros(format!("{mantissa:.2}")));
    }
    let decimals = (2 - magnitude).max(0) as usize;
    let text = trim_zeros(format!("{value:.decimals$}"));
    if text == "-0" {
        "0".to_string()
    } else {
        text
    }
}

/// "2.50" → "2.5", "3.00" → "3"; numbers without a decimal point are left alone.
fn trim_zeros(text: String) -> String {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    }
}

/// Text content and attribute values may hold any string: names come from configs and
/// command lines.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(value: f64, low: f64, high: f64) -> Option<Bar> {
        Some(Bar { value, low, high })
    }

    fn chart(series: &[&str], groups: Vec<(&str, Vec<Option<Bar>>)>) -> Chart {
        Chart {
            title: "CPU per request".to_string(),
            y_label: "proxy CPU µs per request (lower is better)".to_string(),
            series: series.iter().map(|s| s.to_string()).collect(),
            groups: groups.into_iter().map(|(label, bars)| Group { label: label.to_string(), bars }).collect(),
            reference: None,
            log_scale: false,
        }
    }

    fn peers_chart() -> Chart {
        chart(
            &["nginx", "nginx+Lua", "HAProxy", "Pingora", "portcullis"],
            vec![
                (
                    "plain",
                    vec![bar(12.0, 11.0, 13.5), bar(20.0, 19.0, 22.0), None, bar(15.0, 15.0, 15.0), bar(9.0, 8.5, 9.8)],
                ),
                (
                    "rewrite",
                    vec![
                        bar(14.0, 13.0, 15.0),
                        bar(25.0, 24.0, 27.0),
                        bar(13.0, 12.5, 13.2),
                        None,
                        bar(10.0, 9.0, 11.0),
                    ],
                ),
            ],
        )
    }

    fn count(haystack: &str, needle: &str) -> usize {
        haystack.matches(needle).count()
    }

    /// Checks that every element is closed in order, by matching opening and closing tags on
    /// a stack; returns the first mismatch.
    fn check_well_formed(svg: &str) -> Result<(), String> {
        let mut open: Vec<String> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let end = rest[start..].find('>').ok_or("unterminated tag")? + start;
            let tag = &rest[start + 1..end];
            rest = &rest[end + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match open.pop() {
                    Some(expected) if expected == name => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            } else if !tag.ends_with('/') {
                let name = tag.split_whitespace().next().ok_or("empty tag")?;
                open.push(name.to_string());
            }
        }
        if open.is_empty() {
            Ok(())
        } else {
            Err(format!("left open: {open:?}"))
        }
    }

    /// Numbers in the attributes that hold coordinates.
    fn coordinates(svg: &str) -> Vec<String> {
        let mut numbers = Vec::new();
        for attribute in [
            " x=\"",
            " y=\"",
            " x1=\"",
            " y1=\"",
            " x2=\"",
            " y2=\"",
            " width=\"",
            " height=\"",
            " d=\"",
            " transform=\"",
            " viewBox=\"",
        ] {
            for (start, _) in svg.match_indices(attribute) {
                let value = &svg[start + attribute.len()..];
                let value = &value[..value.find('"').unwrap_or(value.len())];
                let tokens = value.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'));
                numbers.extend(tokens.filter(|t| !t.is_empty()).map(str::to_string));
            }
        }
        numbers
    }

    fn assert_sound(svg: &str) {
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.ends_with("</svg>"), "{svg}");
        assert_eq!(count(svg, "<g"), count(svg, "</g>"));
        assert_eq!(count(svg, "<text"), count(svg, "</text>"));
        check_well_formed(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        for number in coordinates(svg) {
            let decimals = number.split('.').nth(1).map_or(0, str::len);
            assert!(decimals <= 1 && number.parse::<f64>().is_ok(), "coordinate {number:?}");
        }
    }

    #[test]
    fn document_is_well_formed() {
        let svg = grouped_bars(&peers_chart());
        assert_sound(&svg);
        assert!(svg.contains("font-family=\"sans-serif\""));
        assert!(svg.contains("fill=\"#ffffff\""), "white background");
    }

    #[test]
    fn one_rect_per_present_bar_plus_background_and_swatches() {
        let svg = grouped_bars(&peers_chart());
        // Background, 5 swatches, 8 of 10 bars present.
        assert_eq!(count(&svg, "<rect"), 1 + 5 + 8);
        assert_eq!(count(&svg, "class=\"value\""), 8);
    }

    #[test]
    fn whisker_iff_low_differs_from_high() {
        // Present bars with low ≠ high: 7 (Pingora's "plain" bar has low = high).
        let svg = grouped_bars(&peers_chart());
        assert_eq!(count(&svg, "class=\"whisker\""), 7);

        let flat = grouped_bars(&chart(&["a"], vec![("g", vec![bar(5.0, 5.0, 5.0)])]));
        assert_eq!(count(&flat, "class=\"whisker\""), 0);
        let spread = grouped_bars(&chart(&["a"], vec![("g", vec![bar(5.0, 4.0, 6.0)])]));
        assert_eq!(count(&spread, "class=\"whisker\""), 1);
        // Whisker ends that are not numbers: the bar alone.
        let broken = grouped_bars(&chart(&["a"], vec![("g", vec![bar(5.0, f64::NAN, 6.0)])]));
        assert_eq!(count(&broken, "class=\"whisker\""), 0);
        assert_eq!(count(&broken, "<rect"), 1 + 1 + 1);
    }

    #[test]
    fn none_bar_draws_nothing() {
        let with = grouped_bars(&chart(&["a", "b"], vec![("g", vec![bar(5.0, 4.0, 6.0), bar(7.0, 6.0, 8.0)])]));
        let without = grouped_bars(&chart(&["a", "b"], vec![("g", vec![bar(5.0, 4.0, 6.0), None])]));
        assert_sound(&without);
        assert_eq!(count(&with, "<rect") - 1, count(&without, "<rect"));
        assert_eq!(count(&without, "class=\"whisker\""), 1);
        assert_eq!(count(&without, "class=\"value\""), 1);
        // Its legend entry stays, in its colour.
        assert_eq!(count(&without, PALETTE[1]), 1);
        // The gap stays too: the first bar sits where it did (its height differs, the axis
        // no longer reaching 8).
        let first_bar_x = |svg: &str| svg.split("<rect").nth(4).and_then(|r| r.split('"').nth(1)).map(str::to_string);
        assert!(first_bar_x(&with).is_some());
        assert_eq!(first_bar_x(&with), first_bar_x(&without));
    }

    #[test]
    fn text_is_escaped() {
        let mut c = chart(&["a<b>&\"c\""], vec![("x & y", vec![bar(1.0, 1.0, 1.0)])]);
        c.title = "<script>\"&\"".to_string();
        c.reference = Some((0.5, "half & half".to_string()));
        let svg = grouped_bars(&c);
        assert_sound(&svg);
        assert!(svg.contains("&lt;script&gt;&quot;&amp;&quot;"));
        assert!(svg.contains("a&lt;b&gt;&amp;&quot;c&quot;"));
        assert!(svg.contains("x &amp; y"));
        assert!(svg.contains("half &amp; half"));
        assert!(!svg.contains("<script") && !svg.contains("<b>"));
    }

    #[test]
    fn nan_and_infinity_never_reach_the_document() {
        let mut c = chart(
            &["a", "b", "c"],
            vec![
                (
                    "g",
                    vec![
                        bar(f64::NAN, 1.0, 2.0),
                        bar(f64::INFINITY, 1.0, f64::INFINITY),
                        bar(3.0, f64::NEG_INFINITY, f64::NAN),
                    ],
                ),
                ("h", vec![bar(f64::NAN, f64::NAN, f64::NAN), None, bar(1e308, 0.0, 1e308)]),
            ],
        );
        c.reference = Some((f64::NAN, "ref".to_string()));
        for log_scale in [false, true] {
            c.log_scale = log_scale;
            let svg = grouped_bars(&c);
            assert_sound(&svg);
            // Only the bar of 3 is drawn: 1e308 is beyond what the axis handles.
            assert_eq!(count(&svg, "<rect"), 1 + 3 + 1, "log: {log_scale}");
            assert_eq!(count(&svg, "class=\"reference\""), 0);
        }
    }

    #[test]
    fn zero_and_negative_values() {
        let mut c =
            chart(&["a", "b", "c"], vec![("g", vec![bar(0.0, 0.0, 0.0), bar(-3.0, -4.0, -2.0), bar(10.0, 9.0, 11.0)])]);
        let linear = grouped_bars(&c);
        assert_sound(&linear);
        // Clamped to the axis: drawn with no height, value still printed.
        assert_eq!(count(&linear, "<rect"), 1 + 3 + 3);
        assert_eq!(count(&linear, "height=\"0\""), 2);
        assert!(linear.contains(">-3</text>"));
        c.log_scale = true;
        let log = grouped_bars(&c);
        assert_sound(&log);
        assert_eq!(count(&log, "<rect"), 1 + 3 + 1);
    }

    #[test]
    fn empty_charts() {
        let nothing = chart(&[], vec![]);
        let no_bars = chart(&["a", "b"], vec![("g", vec![]), ("h", vec![None, None])]);
        for mut c in [nothing, no_bars] {
            for log_scale in [false, true] {
                c.log_scale = log_scale;
                let svg = grouped_bars(&c);
                assert_sound(&svg);
                assert_eq!(count(&svg, "<rect"), 1 + c.series.len());
            }
        }
    }

    #[test]
    fn more_bars_than_series() {
        let c = chart(&["a"], vec![("g", vec![bar(1.0, 1.0, 1.0), bar(2.0, 2.0, 2.0)])]);
        let svg = grouped_bars(&c);
        assert_sound(&svg);
        assert_eq!(count(&svg, "<rect"), 1 + 1 + 2);
        assert!(svg.contains("series 2"));
    }

    #[test]
    fn reference_line_is_drawn_and_fits_the_axis() {
        let mut c = chart(&["a"], vec![("g", vec![bar(0.5, 0.4, 0.6)])]);
        c.reference = Some((1.0, "nginx = 1".to_string()));
        let svg = grouped_bars(&c);
        assert_sound(&svg);
        assert_eq!(count(&svg, "class=\"reference\""), 1);
        assert!(svg.contains("nginx = 1"));
        // The axis reaches the line even though every bar is below it.
        assert_eq!(Scale::for_chart(&c).ticks().last().copied(), Some(1.0));
    }

    #[test]
    fn width_grows_with_groups_and_height_stays() {
        let size = |groups: usize| {
            let c =
                chart(&["a", "b"], (0..groups).map(|_| ("g", vec![bar(1.0, 1.0, 1.0), bar(2.0, 2.0, 2.0)])).collect());
            let svg = grouped_bars(&c);
            let layout = Layout::new(&c, &Scale::for_chart(&c));
            assert!(svg.contains(&format!("width=\"{}\"", num(layout.width))));
            (layout.width, layout.height)
        };
        let (w10, h10) = size(10);
        let (w20, h20) = size(20);
        assert!((w20 - w10 - 10.0 * (2.0 * BAR_SLOT + GROUP_GAP)).abs() < 1e-9);
        assert_eq!(h10, h20);
        assert_eq!(h10, HEIGHT);
    }

    #[test]
    fn long_labels_are_turned() {
        let short = chart(&["a", "b"], vec![("plain", vec![bar(1.0, 1.0, 1.0)])]);
        let long = chart(&["a", "b"], vec![("rewrite + gzip + auth", vec![bar(1.0, 1.0, 1.0)])]);
        assert!(!grouped_bars(&short).contains("rotate(-35"));
        let svg = grouped_bars(&long);
        assert_sound(&svg);
        assert!(svg.contains("rotate(-35"));
        let layout = Layout::new(&long, &Scale::for_chart(&long));
        // The turned label starts inside the page.
        let reach = text_width(&long.groups[0].label, FONT) * LABEL_ANGLE.to_radians().cos();
        assert!(layout.group_centre(0) + 4.0 - reach >= 0.0);
        // The plot gives up height to the turned labels; the document keeps its own.
        assert_eq!(layout.height, HEIGHT);
        assert!(layout.plot_height < Layout::new(&short, &Scale::for_chart(&short)).plot_height);
        // Until the plot would get too short: then the document grows.
        let huge = chart(&["a"], vec![("x".repeat(200).as_str(), vec![bar(1.0, 1.0, 1.0)])]);
        let layout = Layout::new(&huge, &Scale::for_chart(&huge));
        assert_eq!(layout.plot_height, MIN_PLOT_HEIGHT);
        assert!(layout.height > HEIGHT);
        assert_sound(&grouped_bars(&huge));
    }

    #[test]
    fn nice_linear_ticks() {
        assert_eq!(linear_ticks(37.0), [0.0, 10.0, 20.0, 30.0, 40.0]);
        assert_eq!(linear_ticks(100.0), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(linear_ticks(12.0), [0.0, 2.5, 5.0, 7.5, 10.0, 12.5]);
        assert_eq!(linear_ticks(4.0), [0.0, 1.0, 2.0, 3.0, 4.0]);
        assert_eq!(linear_ticks(0.0), [0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]);
        assert_eq!(linear_ticks(f64::NAN), linear_ticks(1.0));
        let labels: Vec<String> = linear_ticks(0.7).into_iter().map(format_number).collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8"]);
        // Over many magnitudes: 4 to 6 ticks, from 0, covering the maximum.
        for max in (0..2000).map(|i| 1e-6 * 1.013f64.powi(i)) {
            let ticks = linear_ticks(max);
            assert!((4..=6).contains(&ticks.len()), "{max}: {ticks:?}");
            assert_eq!(ticks[0], 0.0);
            assert!(ticks[ticks.len() - 1] >= max * (1.0 - 1e-9), "{max}: {ticks:?}");
        }
    }

    #[test]
    fn log_ticks_cover_the_data_in_decades() {
        let scale = Scale::Log { low: 1, high: 7 };
        assert_eq!(decades(80.0, 2e6), (1, 7));
        let ticks = scale.ticks();
        let expected = [10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7];
        assert_eq!(ticks.len(), expected.len());
        for (tick, want) in ticks.iter().zip(expected) {
            assert!((tick / want - 1.0).abs() < 1e-12, "{ticks:?}");
        }
        // Exact powers of ten open no extra decade; one value still gets one decade.
        assert_eq!(decades(100.0, 1000.0), (2, 3));
        assert_eq!(decades(5.0, 5.0), (0, 1));
        assert_eq!(decades(1e-200, 1e6), (6 - MAX_DECADES, 6));
        // Bars start from the lowest decade: 80 shows above the axis, 10 on it.
        assert_eq!(scale.fraction(10.0), Some(0.0));
        assert!(scale.fraction(80.0).is_some_and(|f| f > 0.0));
        assert_eq!(scale.fraction(0.0), None);
    }

    #[test]
    fn log_chart_labels_its_decades() {
        let mut c = chart(
            &["a", "b"],
            vec![
                ("100 B", vec![bar(80.0, 70.0, 95.0), bar(120.0, 110.0, 130.0)]),
                ("1 MiB", vec![bar(2e6, 1.9e6, 2.1e6), None]),
            ],
        );
        c.log_scale = true;
        let svg = grouped_bars(&c);
        assert_sound(&svg);
        for label in ["10", "100", "1000", "10000", "100000", "1e6", "1e7"] {
            assert!(svg.contains(&format!("class=\"tick\">{label}</text>")), "{label}");
        }
        assert_eq!(count(&svg, "<rect"), 1 + 2 + 3);
    }

    #[test]
    fn numbers_for_people() {
        assert_eq!(format_number(37.46), "37.5");
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(2.5), "2.5");
        assert_eq!(format_number(0.001234), "0.00123");
        assert_eq!(format_number(1234.4), "1234");
        assert_eq!(format_number(999.7), "1000");
        assert_eq!(format_number(9.9996), "10");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_number(-0.0001), "-1e-4");
        assert_eq!(format_number(-3.21), "-3.21");
        assert_eq!(format_number(2e6), "2e6");
        assert_eq!(format_number(2_345_678.0), "2.35e6");
        assert_eq!(format_number(9_996_000.0), "1e7");
        assert_eq!(format_number(f64::NAN), "–");
    }

    #[test]
    fn coordinates_have_one_decimal_at_most() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.345), "12.3");
        assert_eq!(num(-0.04), "0");
        assert_eq!(num(f64::NAN), "0");
        assert_eq!(num(f64::INFINITY), "0");
    }
}

//! Inline SVG charts for the HTML report: grouped bar charts and heatmaps.
//! All text passes through [`escape`]; nothing is scripted.

use std::fmt::Write;

use super::ColumnMatrix;

/// Colour of real data.
pub(crate) const REAL_COLOUR: &str = "#3b6fb6";
/// Colour of synthetic data.
pub(crate) const SYNTHETIC_COLOUR: &str = "#e08a2c";
/// Colour of holdout data.
pub(crate) const HOLDOUT_COLOUR: &str = "#5a9e5a";

/// Longest label drawn in full, in characters.
const MAX_LABEL_CHARS: usize = 22;

/// Escapes text for HTML and SVG content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A label shortened to [`MAX_LABEL_CHARS`], escaped.
fn short_label(text: &str) -> String {
    if text.chars().count() <= MAX_LABEL_CHARS {
        return escape(text);
    }
    let head: String = text.chars().take(MAX_LABEL_CHARS - 1).collect();
    escape(&format!("{head}…"))
}

/// One series of a bar chart.
pub(crate) struct Series<'a> {
    /// Its name in the legend.
    pub name: &'a str,
    /// One value per label (shares in `[0, 1]`).
    pub values: &'a [f64],
    /// Its fill colour.
    pub colour: &'a str,
}

/// A grouped bar chart of shares, one group per label.
pub(crate) fn bar_chart(labels: &[String], series: &[Series<'_>]) -> String {
    let group = 8.0 * series.len() as f64 + 6.0;
    let (left, top, plot_height, bottom) = (44.0, 22.0, 130.0, 110.0);
    let width = (left + group * labels.len() as f64 + 10.0).max(260.0);
    let height = top + plot_height + bottom;
    let maximum = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" role="img">"#
    );
    let base = top + plot_height;
    let _ = write!(
        svg,
        r##"<line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#888"/><line x1="{left}" y1="{base}" x2="{w:.0}" y2="{base}" stroke="#888"/><text x="{tx}" y="{ty}" font-size="9" text-anchor="end">{max:.1}%</text><text x="{tx}" y="{base}" font-size="9" text-anchor="end">0%</text>"##,
        w = width - 6.0,
        tx = left - 3.0,
        ty = top + 8.0,
        max = maximum * 100.0,
    );
    for (index, series) in series.iter().enumerate() {
        let x = left + 4.0 + 90.0 * index as f64;
        let _ = write!(
            svg,
            r#"<rect x="{x}" y="4" width="9" height="9" fill="{colour}"/><text x="{tx}" y="12" font-size="10">{name}</text>"#,
            colour = series.colour,
            tx = x + 12.0,
            name = escape(series.name),
        );
    }
    for (i, label) in labels.iter().enumerate() {
        let group_left = left + 3.0 + group * i as f64;
        for (s, series) in series.iter().enumerate() {
            let value = series.values.get(i).copied().unwrap_or(0.0);
            let bar = plot_height * value / maximum;
            let _ = write!(
                svg,
                r#"<rect x="{x:.1}" y="{y:.1}" width="7" height="{bar:.1}" fill="{colour}"><title>{name} · {label}: {pct:.2}%</title></rect>"#,
                x = group_left + 8.0 * s as f64,
                y = base - bar,
                colour = series.colour,
                name = escape(series.name),
                label = escape(label),
                pct = value * 100.0,
            );
        }
        let cx = group_left + group / 2.0 - 2.0;
        let _ = write!(
            svg,
            r#"<text x="{cx:.1}" y="{y:.1}" font-size="9" text-anchor="end" transform="rotate(-50 {cx:.1} {y:.1})">{text}</text>"#,
            y = base + 10.0,
            text = short_label(label),
        );
    }
    svg.push_str("</svg>");
    svg
}

fn mix(from: (f64, f64, f64), to: (f64, f64, f64), t: f64) -> String {
    let t = t.clamp(0.0, 1.0);
    let channel = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    format!(
        "#{:02x}{:02x}{:02x}",
        channel(from.0, to.0),
        channel(from.1, to.1),
        channel(from.2, to.2)
    )
}

fn cell_colour(value: Option<f64>, signed: bool) -> String {
    const WHITE: (f64, f64, f64) = (255.0, 255.0, 255.0);
    match value {
        None => "#d9d9d9".into(),
        Some(v) if signed && v < 0.0 => mix(WHITE, (33.0, 102.0, 172.0), -v),
        Some(v) if signed => mix(WHITE, (178.0, 24.0, 43.0), v),
        Some(v) => mix(WHITE, (8.0, 48.0, 107.0), v.max(0.0).sqrt()),
    }
}

/// A heatmap of `matrix`: diverging colours over `[-1, 1]` if `signed`,
/// white to blue over `[0, 1]` by square root otherwise (so that the small
/// values typical of mutual information show); grey where undefined.
pub(crate) fn heatmap(matrix: &ColumnMatrix, signed: bool) -> String {
    let n = matrix.columns.len();
    let cell = 18.0;
    let longest = matrix
        .columns
        .iter()
        .map(|name| name.chars().count().min(MAX_LABEL_CHARS))
        .max()
        .unwrap_or(0) as f64;
    let margin = 10.0 + 5.5 * longest;
    let size = margin + cell * n as f64 + 6.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{size:.0}" height="{size:.0}" viewBox="0 0 {size:.0} {size:.0}" role="img">"#
    );
    for (i, name) in matrix.columns.iter().enumerate() {
        let centre = margin + cell * (i as f64 + 0.5);
        let _ = write!(
            svg,
            r#"<text x="{x:.1}" y="{y:.1}" font-size="9" text-anchor="end">{text}</text><text x="{cx:.1}" y="{cy:.1}" font-size="9" transform="rotate(-90 {cx:.1} {cy:.1})">{text}</text>"#,
            x = margin - 3.0,
            y = centre + 3.0,
            cx = centre + 3.0,
            cy = margin - 3.0,
            text = short_label(name),
        );
    }
    for (i, row) in matrix.values.iter().enumerate() {
        for (j, value) in row.iter().enumerate() {
            let shown = value.map_or("undefined".to_string(), |v| format!("{v:.3}"));
            let _ = write!(
                svg,
                r##"<rect x="{x:.1}" y="{y:.1}" width="{cell}" height="{cell}" fill="{fill}" stroke="#fff"><title>{a} × {b}: {shown}</title></rect>"##,
                x = margin + cell * j as f64,
                y = margin + cell * i as f64,
                fill = cell_colour(*value, signed),
                a = escape(&matrix.columns[i]),
                b = escape(matrix.columns.get(j).map_or("", String::as_str)),
            );
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_characters() {
        assert_eq!(
            escape(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn long_labels_are_shortened_then_escaped() {
        let label = short_label(&"<".repeat(40));
        assert_eq!(label.matches("&lt;").count(), MAX_LABEL_CHARS - 1);
        assert!(label.ends_with('…'));
    }

    #[test]
    fn colours_span_the_scales() {
        assert_eq!(cell_colour(Some(0.0), true), "#ffffff");
        assert_eq!(cell_colour(Some(1.0), false), "#08306b");
        assert_eq!(cell_colour(Some(-1.0), true), "#2166ac");
        assert_eq!(cell_colour(None, false), "#d9d9d9");
    }
}

//! How `kennelctl top` draws a `Model` (ratatui): a header, one row per slot, the dispatch
//! latency histogram, the last events, and a status line. Fits 80×24; larger terminals get
//! more rows and events.

use kennel_common::layout::{Supervision, DISPATCH_BUCKETS};
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Borders, Paragraph, Row, Sparkline, Table, TableState};
use ratatui::Frame;

use super::model::Model;
use kennel_client::status::{fmt_age, state_word, tasks};

pub fn draw(f: &mut Frame, m: &Model) {
    let [head, table, hist, events, status] = Layout::vertical([
        Constraint::Length(2),
        Constraint::Min(5),
        Constraint::Length(3),
        Constraint::Length(5),
        Constraint::Length(1),
    ])
    .areas(f.area());
    f.render_widget(Paragraph::new(header(m)), head);
    let mut state = TableState::default().with_selected(Some(m.selected));
    f.render_stateful_widget(rows(m), table, &mut state);
    f.render_widget(histogram(m), hist);
    let lines: Vec<Line> = m.events.iter().map(|e| Line::from(e.as_str())).collect();
    let block = Block::default().borders(Borders::TOP).title(" events ");
    f.render_widget(Paragraph::new(lines).block(block), events);
    f.render_widget(
        Paragraph::new(m.message.as_str()).style(Style::default().add_modifier(Modifier::BOLD)),
        status,
    );
    if m.help {
        help(f);
    }
}

/// The keys, over the middle of the screen; any key closes it.
fn help(f: &mut Frame) {
    let text = [
        "↑ ↓ / k j   select a row",
        "r           restart the selected process (asks y)",
        "s           stop, or start a stopped one (asks y)",
        "+           one more worker (kennelctl scale N+1)",
        "-           one worker less (asks y)",
        "?           this help",
        "q / Esc     quit",
        "",
        "CPU% counts a worker's sandboxes (the programs it runs).",
        "Colours: green running · cyan starting · yellow backoff,",
        "stopping, draining · red fatal or frozen · grey stopped.",
        "",
        "any key closes this",
    ];
    let area = f.area();
    let w = 62.min(area.width);
    let h = (text.len() as u16 + 2).min(area.height);
    let rect = ratatui::layout::Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    };
    let lines: Vec<Line> = text.iter().map(|t| Line::from(*t)).collect();
    f.render_widget(ratatui::widgets::Clear, rect);
    f.render_widget(
        Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(" keys ")),
        rect,
    );
}

fn header(m: &Model) -> Vec<Line<'static>> {
    let s = &m.snap;
    let up = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
        .saturating_sub(s.created_unix_ms)
        / 1000;
    let d = s.dispatcher();
    let pool = if s.pool.max > s.pool.min {
        format!(
            "pool {} ({}–{})",
            m.active_workers(),
            s.pool.min,
            s.pool.max
        )
    } else {
        format!("pool {}", m.active_workers())
    };
    let limits = s
        .workers()
        .iter()
        .find(|r| r.capacity > 0)
        .map(|r| kennel_common::limits_mode::LimitsMode::decode(r.limits).describe())
        .unwrap_or_else(|| "no worker yet".into());
    vec![
        Line::from(format!(
            "Kennel {} · up {:02}:{:02}:{:02} · limits {limits}",
            m.ctx.runtime_dir,
            up / 3600,
            up / 60 % 60,
            up % 60
        )),
        Line::from(format!(
            "requests {} · busy answers {} · queue {} · {pool} · connections {}",
            d.served, d.busy, d.waiting, d.connections
        )),
    ]
}

/// How long the process has run, `H:MM:SS` (`-` when none runs).
fn uptime(r: &kennel_common::segment::RecordView) -> String {
    if r.pid().is_none() || r.started_ms == 0 {
        return "-".into();
    }
    let s = kennel_common::clock::monotonic_ms().saturating_sub(r.started_ms) / 1000;
    format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

/// Colours that mean something: a frozen process (alive, silent) is as alarming as a fatal one.
fn colour(s: &kennel_common::segment::Snapshot, r: &kennel_common::segment::RecordView) -> Color {
    if kennel_common::invariants::is_frozen(s, r) {
        return Color::Red;
    }
    match r.supervision() {
        Some(Supervision::Fatal) => Color::Red,
        Some(Supervision::Backoff | Supervision::Stopping | Supervision::Draining) => Color::Yellow,
        Some(Supervision::Starting) => Color::Cyan,
        Some(Supervision::Stopped | Supervision::Vacant | Supervision::Down) => Color::DarkGray,
        _ => Color::Green,
    }
}

fn rows(m: &Model) -> Table<'static> {
    let s = &m.snap;
    let body: Vec<Row> = s
        .records
        .iter()
        .enumerate()
        .map(|(k, r)| {
            let name = match r.id {
                kennel_common::segment::RecordId::Dispatcher => "disp".to_string(),
                kennel_common::segment::RecordId::Worker(w) => format!("w{w}"),
                kennel_common::segment::RecordId::Gateway => "http".to_string(),
            };
            let pid = r.pid().map_or("-".into(), |p| p.to_string());
            let rss = r.pid().and_then(kennel_common::procfs::rss_kib);
            Row::new(vec![
                name,
                pid,
                state_word(s, &m.ctx, r),
                tasks(r),
                m.cpu[k].map_or("-".into(), |c| format!("{c:.0}")),
                rss.map_or("-".into(), |k| format!("{:.1}M", k as f64 / 1024.0)),
                r.served.to_string(),
                r.failed.to_string(),
                r.restarts.to_string(),
                uptime(r),
                fmt_age(kennel_client::status::heartbeat_age(s, r)),
                r.last_exit_text().unwrap_or_else(|| "-".into()),
            ])
            .style(Style::default().fg(colour(s, r)))
        })
        .collect();
    let widths = [
        Constraint::Length(4),
        Constraint::Length(7),
        Constraint::Length(8),
        Constraint::Length(5),
        Constraint::Length(4),
        Constraint::Length(6),
        Constraint::Length(6),
        Constraint::Length(4),
        Constraint::Length(3),
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Min(8),
    ];
    let head = Row::new([
        "SLOT",
        "PID",
        "STATE",
        "TASKS",
        "CPU%",
        "RSS",
        "SERVED",
        "FAIL",
        "RST",
        "UP",
        "HB",
        "LAST EXIT",
    ])
    .style(Style::default().add_modifier(Modifier::BOLD));
    Table::new(body, widths)
        .header(head)
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED))
}

/// The dispatcher's own time per request, 1 µs per bucket (the segment's histogram).
fn histogram(m: &Model) -> Sparkline<'static> {
    let counts: Vec<u64> = m.hist.clone();
    let total: u64 = counts.iter().sum();
    let pct = |q: f64| {
        let mut seen = 0;
        for (us, c) in counts.iter().enumerate() {
            seen += c;
            if total > 0 && seen as f64 >= q * total as f64 {
                return us;
            }
        }
        DISPATCH_BUCKETS - 1
    };
    let title = if total == 0 {
        " dispatch µs: no request yet ".to_string()
    } else {
        format!(
            " dispatch µs (0–{}): p50 ≤ {} · p99 ≤ {} ",
            DISPATCH_BUCKETS - 1,
            pct(0.5),
            pct(0.99)
        )
    };
    Sparkline::default()
        .block(Block::default().borders(Borders::TOP).title(title))
        .data(counts)
        .style(Style::default().fg(Color::Blue))
}

//! Auto mode: which side renders, chosen from what this device and this link do, with
//! hysteresis so it never flaps. Plain Rust, tested natively.
//!
//! It watches how long a browser-side frame takes (measured on real frames in browser
//! mode, and on a probe frame now and then in server mode, once the map is here) and
//! what the link delivers in server mode (frames a second against those asked for,
//! round-trip time). Browser rendering wins when the device draws a frame well inside a
//! 60 Hz budget: it costs the link nothing. Otherwise the server renders: lossless
//! frames, or video (a tenth of the bytes, a little blurred) once the link has shown it
//! cannot carry lossless ones. Video stays until the device proves fast: with no
//! measure of what the link could carry above the video's rate, trying lossless again
//! would only flap.

use shared::protocol::RenderMode;

/// A browser frame this fast leaves room for the rest of the page at 60 Hz.
const FAST_MS: f64 = 8.0;
/// Slower than this, browser rendering drops frames: back to the server.
const SLOW_MS: f64 = 14.0;
/// Server frames this far below the rate the view needs, on a slow round trip, mean the
/// link is the bottleneck.
const LINK_FPS: f64 = 20.0;
const LINK_RTT_MS: f64 = 150.0;
/// Least time between two switches, and how long a verdict must hold.
const DWELL_MS: f64 = 5000.0;
const HOLD_MS: f64 = 2000.0;

/// Why Auto chose what it chose, for the HUD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Starting out: the server draws while the map loads and the device is measured.
    Starting,
    FastDevice,
    SlowDevice,
    SlowLink,
}

impl Reason {
    pub fn text(self) -> &'static str {
        match self {
            Reason::Starting => "measuring this device",
            Reason::FastDevice => "this device renders fast",
            Reason::SlowDevice => "this device renders slowly",
            Reason::SlowLink => "the link is slow",
        }
    }
}

#[derive(Debug)]
pub struct Auto {
    mode: RenderMode,
    reason: Reason,
    /// Browser frame time, ms: a moving average.
    render_ms: Option<f64>,
    /// Server frames a second received while the view moved, and the round trip.
    server_fps: Option<f64>,
    rtt_ms: Option<f64>,
    last_switch: f64,
    /// Since when the current verdict has held, and what it is.
    verdict: Option<(f64, RenderMode, Reason)>,
    /// The browser decodes video (WebCodecs), so a slow link can get it.
    video: bool,
    /// Server frames have come too slowly for lossless on this link.
    link_slow: bool,
}

impl Auto {
    pub fn new(now: f64, video: bool) -> Auto {
        Auto {
            mode: RenderMode::Server,
            reason: Reason::Starting,
            render_ms: None,
            server_fps: None,
            rtt_ms: None,
            last_switch: now,
            verdict: None,
            video,
            link_slow: false,
        }
    }

    pub fn mode(&self) -> RenderMode {
        self.mode
    }

    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// A browser-side frame took `ms`.
    pub fn rendered(&mut self, ms: f64) {
        self.render_ms = Some(match self.render_ms {
            Some(avg) => avg * 0.8 + ms * 0.2,
            None => ms,
        });
    }

    /// What server mode delivered over the last stretch while the view moved.
    pub fn link(&mut self, fps: f64, rtt_ms: Option<f64>) {
        self.server_fps = Some(fps);
        self.rtt_ms = rtt_ms.or(self.rtt_ms);
        self.link_slow |= self.mode == RenderMode::Server
            && fps < LINK_FPS
            && self.rtt_ms.is_some_and(|r| r > LINK_RTT_MS);
    }

    /// The mode to be in at `now`: a change only once its verdict has held for a while,
    /// and not soon after the last change.
    pub fn decide(&mut self, now: f64) -> Option<RenderMode> {
        let Some((mode, reason)) = self.verdict_now() else {
            self.verdict = None;
            return None;
        };
        let since = match self.verdict {
            Some((since, m, r)) if m == mode && r == reason => since,
            _ => {
                self.verdict = Some((now, mode, reason));
                now
            }
        };
        if mode == self.mode {
            self.reason = reason;
            return None;
        }
        if now - since < HOLD_MS || now - self.last_switch < DWELL_MS {
            return None;
        }
        self.mode = mode;
        self.reason = reason;
        self.last_switch = now;
        Some(mode)
    }

    fn verdict_now(&self) -> Option<(RenderMode, Reason)> {
        let slow_link = self.link_slow;
        // A slow link does not wait for the device to be measured: video at once.
        let Some(ms) = self.render_ms else {
            return (self.mode == RenderMode::Server && slow_link && self.video)
                .then_some((RenderMode::Video, Reason::SlowLink));
        };
        let server = if slow_link && self.video {
            RenderMode::Video
        } else {
            RenderMode::Server
        };
        match self.mode {
            _ if ms <= FAST_MS => Some((RenderMode::Client, Reason::FastDevice)),
            RenderMode::Client if ms > SLOW_MS => Some((server, Reason::SlowDevice)),
            RenderMode::Client => Some((RenderMode::Client, self.reason_in_client())),
            // Not fast, but the link is worse: the device does it anyway.
            _ if slow_link && ms <= SLOW_MS => Some((RenderMode::Client, Reason::SlowLink)),
            _ if slow_link => Some((server, Reason::SlowLink)),
            _ => Some((server, Reason::SlowDevice)),
        }
    }

    fn reason_in_client(&self) -> Reason {
        match self.reason {
            Reason::SlowLink => Reason::SlowLink,
            _ => Reason::FastDevice,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `ms` frames every 100 ms from `from` to `to`; returns the switches.
    fn run(a: &mut Auto, from: f64, to: f64, ms: f64) -> Vec<(f64, RenderMode)> {
        let mut out = Vec::new();
        let mut t = from;
        while t < to {
            a.rendered(ms);
            if let Some(m) = a.decide(t) {
                out.push((t, m));
            }
            t += 100.0;
        }
        out
    }

    #[test]
    fn a_fast_device_goes_to_browser_rendering_after_a_while() {
        let mut a = Auto::new(0.0, false);
        assert_eq!(a.mode(), RenderMode::Server);
        assert_eq!(a.decide(0.0), None, "nothing measured yet");
        assert_eq!(a.reason(), Reason::Starting);
        let switches = run(&mut a, 0.0, 10_000.0, 3.0);
        assert_eq!(
            switches,
            [(5000.0, RenderMode::Client)],
            "after the first dwell"
        );
        assert_eq!(a.reason(), Reason::FastDevice);
    }

    #[test]
    fn a_slow_device_stays_on_the_server_and_a_slowing_one_goes_back() {
        let mut a = Auto::new(0.0, false);
        assert_eq!(run(&mut a, 0.0, 20_000.0, 25.0), []);
        assert_eq!(
            (a.mode(), a.reason()),
            (RenderMode::Server, Reason::SlowDevice)
        );
        let mut b = Auto::new(0.0, false);
        run(&mut b, 0.0, 6000.0, 3.0);
        assert_eq!(b.mode(), RenderMode::Client);
        // The device gets slow (another tab, a thermal throttle): back, once.
        let switches = run(&mut b, 6000.0, 30_000.0, 30.0);
        assert_eq!(switches.len(), 1, "{switches:?}");
        assert_eq!(switches[0].1, RenderMode::Server);
    }

    #[test]
    fn no_flapping_around_the_thresholds() {
        let mut a = Auto::new(0.0, false);
        let mut switches = 0;
        // Render times wandering between fast and slow every 300 ms.
        for i in 0..600 {
            a.rendered(if (i / 3) % 2 == 0 { 4.0 } else { 20.0 });
            switches += a.decide(i as f64 * 100.0).is_some() as u32;
        }
        assert!(switches <= 2, "{switches} switches in a minute");
    }

    #[test]
    fn a_slow_link_sends_a_middling_device_to_browser_rendering() {
        let mut a = Auto::new(0.0, false);
        a.link(8.0, Some(300.0));
        let switches = run(&mut a, 0.0, 10_000.0, 11.0);
        assert_eq!(switches, [(5000.0, RenderMode::Client)]);
        assert_eq!(a.reason(), Reason::SlowLink);
    }

    #[test]
    fn a_slow_link_and_a_slow_device_get_video_when_the_browser_decodes_it() {
        let mut a = Auto::new(0.0, true);
        a.link(6.0, Some(400.0));
        // Before the device is measured: the link alone says video.
        assert_eq!(a.decide(0.0), None, "a verdict holds a while first");
        let switches = run(&mut a, 0.0, 10_000.0, 40.0);
        assert_eq!(switches, [(5000.0, RenderMode::Video)]);
        assert_eq!(a.reason(), Reason::SlowLink);
        // Video stays while the device stays slow, and the link's figures in video mode
        // (fast now) do not send it back to lossless frames.
        a.link(60.0, Some(20.0));
        assert_eq!(run(&mut a, 10_000.0, 40_000.0, 40.0), []);
        // A device that gets fast renders in the browser.
        let fast = run(&mut a, 40_000.0, 50_000.0, 3.0);
        assert_eq!(fast.len(), 1, "{fast:?}");
        assert_eq!(fast[0].1, RenderMode::Client);
        // Slow again: back to video, not to lossless.
        let back = run(&mut a, 50_000.0, 70_000.0, 40.0);
        assert_eq!(back.len(), 1, "{back:?}");
        assert_eq!(back[0].1, RenderMode::Video);
    }

    #[test]
    fn without_video_a_slow_link_keeps_lossless_frames() {
        let mut a = Auto::new(0.0, false);
        a.link(6.0, Some(400.0));
        assert_eq!(run(&mut a, 0.0, 20_000.0, 40.0), []);
        assert_eq!(
            (a.mode(), a.reason()),
            (RenderMode::Server, Reason::SlowLink)
        );
    }
}

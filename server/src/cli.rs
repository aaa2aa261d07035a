//! Command-line flags.

use clap::{Args as ClapArgs, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "server",
    version,
    about = "voxelcast: Voxel Space terrain flight, rendered here or in the browser"
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub map: MapArgs,
    #[command(flatten)]
    pub serve: ServeArgs,
}

#[derive(Debug, Clone, ClapArgs)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// Directory with the page and the built wasm.
    #[arg(long, default_value = "www")]
    pub www: PathBuf,
    /// Also serve a WebSocket echo endpoint on /echo (for conformance tests).
    #[arg(long)]
    pub echo: bool,
    /// Largest message /echo accepts, in bytes.
    #[arg(long, default_value_t = 16 << 20)]
    pub echo_max_message: usize,
    /// Accept WebSocket upgrades only from pages of this origin (repeatable); default: any.
    #[arg(long = "allowed-origin")]
    pub allowed_origins: Vec<String>,
    /// Most simultaneous connections; more are answered 503.
    #[arg(long, default_value_t = 20_000)]
    pub max_connections: usize,
    /// Seconds a client has to send a whole request head.
    #[arg(long, default_value_t = 10)]
    pub head_timeout: u64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, default_value_t = 30)]
    pub idle_timeout: u64,
    /// Most frames a second rendered for one player (server-side mode).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=240))]
    pub fps: u32,
    /// Highest rate of a video stream (`?mode=video`), kbit/s; each stream adapts below
    /// it to what its link delivers. The default is just under 6 KB a frame at 60 fps.
    #[arg(long, default_value_t = 2850, value_parser = clap::value_parser!(u32).range(300..=50_000))]
    pub video_kbps: u32,
    /// Largest frame the server renders, WIDTHxHEIGHT; bigger requests are scaled down.
    #[arg(long, default_value = "800x450", value_parser = parse_viewport)]
    pub max_viewport: shared::Viewport,
    /// Most players at once in a room.
    #[arg(long, default_value_t = 64)]
    pub max_players: usize,
    /// Rooms this process holds (r1, r2, …), each its own world: a generated map gets
    /// seeds --seed, --seed + 1, …; a loaded map is in every room.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub rooms: u32,
    /// Redis URL (redis://host:port): rooms of every process sharing it are listed in
    /// every lobby, and finished runs are announced in all of them.
    #[arg(long)]
    pub redis: Option<String>,
    /// This process's name among others (letters, digits, `-`): its rooms are
    /// <NAME>-r1, <NAME>-r2, …, so a proxy can route `/ws?room=` by the prefix.
    #[arg(long, value_parser = parse_process)]
    pub process: Option<String>,
    /// Frames rendered at once; default: one per core.
    #[arg(long)]
    pub render_threads: Option<usize>,
    /// Directory for the server's data: the records database (`voxelcast.db`).
    #[arg(long, default_value = "data")]
    pub data: PathBuf,
    /// Database URL instead of the SQLite file in --data (e.g. postgres://…).
    #[arg(long)]
    pub database: Option<String>,
    /// File holding the operators' token (16 characters or more): with it, POST
    /// /api/admin/{mute,kick,revoke} with `Authorization: Bearer <token>` moderate.
    #[arg(long)]
    pub admin_token_file: Option<PathBuf>,
}

fn parse_process(s: &str) -> Result<String, String> {
    let ok =
        !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    ok.then(|| s.to_owned())
        .ok_or_else(|| "1 to 32 letters, digits or '-'".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aircraft_flags() {
        let a = parse_aircraft("512,-700.5, 170,90").unwrap();
        assert_eq!((a.x, a.y, a.altitude), (512.0, -700.5, 170.0));
        assert!((a.yaw - core::f32::consts::FRAC_PI_2).abs() < 1e-6);
        for bad in ["1,2,3", "1,2,3,4,5", "1,2,x,4", "1,2,inf,4", ""] {
            assert!(parse_aircraft(bad).is_err(), "{bad:?}");
        }
    }
}

fn parse_viewport(s: &str) -> Result<shared::Viewport, String> {
    let (w, h) = s
        .split_once('x')
        .ok_or("expected WIDTHxHEIGHT, e.g. 800x450")?;
    let num = |v: &str| v.trim().parse::<u32>().map_err(|e| format!("{v:?}: {e}"));
    shared::Viewport::new(num(w)?, num(h)?).map_err(|e| e.to_string())
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render one frame to a PNG file and exit.
    Snapshot(SnapshotArgs),
}

/// Which map to fly over: the generated default, or a Comanche-style PNG pair.
#[derive(Debug, Clone, ClapArgs)]
pub struct MapArgs {
    /// Seed of the generated default map.
    #[arg(long, global = true, default_value_t = shared::mapgen::DEFAULT_SEED)]
    pub seed: u64,
    /// Colour map PNG (palette or RGB); needs --height-map.
    #[arg(long, global = true, requires = "height_map")]
    pub color_map: Option<PathBuf>,
    /// Height map PNG (grey or palette, same size or half the colour map's); needs --color-map.
    #[arg(long, global = true, requires = "color_map")]
    pub height_map: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
pub struct SnapshotArgs {
    /// Output PNG file.
    #[arg(long, default_value = "frame.png")]
    pub out: PathBuf,
    #[arg(long, default_value_t = 800)]
    pub width: u32,
    #[arg(long, default_value_t = 450)]
    pub height: u32,
    #[arg(long, default_value_t = shared::Camera::default().x)]
    pub x: f32,
    #[arg(long, default_value_t = shared::Camera::default().y)]
    pub y: f32,
    #[arg(long, default_value_t = shared::Camera::default().altitude)]
    pub altitude: f32,
    /// Heading in degrees, clockwise from up the map.
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub yaw: f32,
    /// Horizon offset as a fraction of the height; positive looks down.
    #[arg(long, default_value_t = shared::Camera::default().horizon, allow_negative_numbers = true)]
    pub horizon: f32,
    #[arg(long, default_value_t = shared::Camera::default().distance)]
    pub distance: f32,
    /// Horizontal field of view in degrees.
    #[arg(long, default_value_t = 90.0)]
    pub fov: f32,
    /// Turn distance fog off.
    #[arg(long)]
    pub no_fog: bool,
    /// Another aircraft in the picture: X,Y,ALTITUDE,YAW (yaw in degrees, like --yaw).
    /// Repeatable; each gets the next tint.
    #[arg(long, value_parser = parse_aircraft, allow_hyphen_values = true)]
    pub aircraft: Vec<shared::sprite::Aircraft>,
    /// Draw the map's race course (gate 0 marked as the next).
    #[arg(long)]
    pub course: bool,
    /// Look through gate N of the course from behind it (overrides the camera's
    /// position and heading; implies --course, gate N marked).
    #[arg(long)]
    pub at_gate: Option<usize>,
}

/// `X,Y,ALTITUDE,YAW` (degrees), every number finite.
fn parse_aircraft(s: &str) -> Result<shared::sprite::Aircraft, String> {
    let parts: Vec<&str> = s.split(',').collect();
    let [x, y, altitude, yaw] = parts[..] else {
        return Err("expected X,Y,ALTITUDE,YAW, e.g. 512,700,170,45".into());
    };
    let num = |v: &str| match v.trim().parse::<f32>() {
        Ok(n) if n.is_finite() => Ok(n),
        Ok(_) => Err(format!("{v:?} is not a finite number")),
        Err(e) => Err(format!("{v:?}: {e}")),
    };
    Ok(shared::sprite::Aircraft {
        x: num(x)?,
        y: num(y)?,
        altitude: num(altitude)?,
        yaw: num(yaw)?.to_radians(),
        tint: 0,
        look: Default::default(),
    })
}

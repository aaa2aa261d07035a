//! Golden images: fixed cameras over the default map, compared byte for byte (palette
//! indices) with committed PNGs. After a deliberate change to the renderer or the map,
//! regenerate them with `VOXELCAST_BLESS=1 cargo test -p shared --test golden` and look
//! at the new pictures before committing them.

use shared::mapgen::{DEFAULT_SEED, generate};
use shared::{Camera, Map, RenderOptions, Renderer, Viewport};
use std::path::PathBuf;
use std::sync::OnceLock;

fn map() -> &'static Map {
    static MAP: OnceLock<Map> = OnceLock::new();
    MAP.get_or_init(|| generate(DEFAULT_SEED))
}

fn check(name: &str, camera: Camera, width: u32, height: u32, options: RenderOptions) {
    let viewport = Viewport::new(width, height).unwrap();
    let mut frame = vec![0; viewport.pixels()];
    Renderer::new().render(map(), &camera, &options, viewport, &mut frame);
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.png"));
    if std::env::var_os("VOXELCAST_BLESS").is_some() {
        write_indexed_png(&path, width, height, &frame);
        return;
    }
    let (w, h, golden) = read_indexed_png(&path);
    assert_eq!((w, h), (width, height), "{name}: golden size");
    let diff = frame.iter().zip(&golden).filter(|(a, b)| a != b).count();
    assert_eq!(
        diff,
        0,
        "{name}: {diff} pixels differ from {}",
        path.display()
    );
}

fn write_indexed_png(path: &PathBuf, w: u32, h: u32, frame: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Indexed);
    enc.set_depth(png::BitDepth::Eight);
    enc.set_palette(map().palette().to_bytes().to_vec());
    enc.write_header().unwrap().write_image_data(frame).unwrap();
}

fn read_indexed_png(path: &PathBuf) -> (u32, u32, Vec<u8>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Indexed);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

#[test]
fn default_view() {
    check(
        "default_view",
        Camera::default(),
        320,
        200,
        RenderOptions::default(),
    );
}

#[test]
fn looking_down_into_a_valley_without_fog() {
    let camera = Camera {
        x: 300.0,
        y: 300.0,
        altitude: 200.0,
        yaw: 135f32.to_radians(),
        horizon: 0.2,
        ..Camera::default()
    };
    let options = RenderOptions {
        fog: false,
        ..RenderOptions::default()
    };
    check("valley_no_fog", camera, 400, 240, options);
}

#[test]
fn original_assembly_settings() {
    // 320x200, distance 400, one z step per unit, no fog: the original server's view
    // (raised above this map's hills at that spot).
    let camera = Camera {
        x: 512.0,
        y: 87.0,
        altitude: 230.0,
        horizon: 0.0,
        distance: 400.0,
        ..Camera::default()
    };
    let options = RenderOptions {
        fog: false,
        lod: 0.0,
    };
    check("assembly_settings", camera, 320, 200, options);
}

#[test]
fn wide_fov_across_the_wrap_seam() {
    let camera = Camera {
        x: 1020.0,
        y: 5.0,
        altitude: 180.0,
        yaw: -2.5,
        fov: 120f32.to_radians(),
        horizon: -0.1,
        ..Camera::default()
    };
    check("wrap_seam_wide", camera, 480, 200, RenderOptions::default());
}

//! The camera and the viewport: everything that decides what a frame shows.
//!
//! A camera is viewport-independent (the horizon is a fraction of the height, the
//! projection scale follows from the field of view), so the server and the browser
//! can draw the same camera at any resolution.

use thiserror::Error;

/// Where the viewer is and where it looks, in map units.
///
/// Yaw is a compass heading in radians: 0 looks towards -y (up the map image),
/// π/2 towards +x. Positions may be any finite value: the world wraps around.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Camera {
    pub x: f32,
    pub y: f32,
    /// Height of the eye above height 0 of the map (heights are 0..=255).
    pub altitude: f32,
    pub yaw: f32,
    /// Vertical offset of the horizon from the middle of the viewport, as a fraction of
    /// the viewport height; positive looks down (the horizon moves up), negative looks up.
    pub horizon: f32,
    /// Far clipping distance in map units.
    pub distance: f32,
    /// Horizontal field of view in radians.
    pub fov: f32,
}

impl Camera {
    pub const MIN_DISTANCE: f32 = 16.0;
    pub const MAX_DISTANCE: f32 = 4096.0;
    pub const MIN_FOV: f32 = 0.35; // 20°
    pub const MAX_FOV: f32 = 2.45; // 140°
    pub const MAX_HORIZON: f32 = 1.5;
    pub const MAX_ALTITUDE: f32 = 2048.0;

    /// Replaces every value outside its sane range (NaN included) with the nearest
    /// allowed one, so untrusted cameras cannot make the renderer misbehave.
    pub fn sanitized(self) -> Camera {
        fn clamp(v: f32, lo: f32, hi: f32, nan: f32) -> f32 {
            if v.is_nan() { nan } else { v.clamp(lo, hi) }
        }
        const WORLD: f32 = 1.0e6;
        Camera {
            x: clamp(self.x, -WORLD, WORLD, 0.0),
            y: clamp(self.y, -WORLD, WORLD, 0.0),
            altitude: clamp(self.altitude, -Self::MAX_ALTITUDE, Self::MAX_ALTITUDE, 0.0),
            yaw: clamp(self.yaw, -1.0e4, 1.0e4, 0.0),
            horizon: clamp(self.horizon, -Self::MAX_HORIZON, Self::MAX_HORIZON, 0.0),
            distance: clamp(self.distance, Self::MIN_DISTANCE, Self::MAX_DISTANCE, 800.0),
            fov: clamp(
                self.fov,
                Self::MIN_FOV,
                Self::MAX_FOV,
                core::f32::consts::FRAC_PI_2,
            ),
        }
    }
}

impl Default for Camera {
    /// A view over the default map that shows water, shore, forest and mountains.
    fn default() -> Self {
        Camera {
            x: 512.0,
            y: 800.0,
            altitude: 160.0,
            yaw: 0.0,
            horizon: 0.1,
            distance: 800.0,
            fov: core::f32::consts::FRAC_PI_2,
        }
    }
}

/// A frame size that the renderer accepts: from 64x48 to 1920x1080.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Viewport {
    width: u16,
    height: u16,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("viewport {width}x{height} is outside 64x48..=1920x1080")]
pub struct ViewportError {
    pub width: u32,
    pub height: u32,
}

impl Viewport {
    pub const MIN: (u16, u16) = (64, 48);
    pub const MAX: (u16, u16) = (1920, 1080);

    pub fn new(width: u32, height: u32) -> Result<Viewport, ViewportError> {
        let ok_w = (Self::MIN.0 as u32..=Self::MAX.0 as u32).contains(&width);
        let ok_h = (Self::MIN.1 as u32..=Self::MAX.1 as u32).contains(&height);
        if ok_w && ok_h {
            Ok(Viewport {
                width: width as u16,
                height: height as u16,
            })
        } else {
            Err(ViewportError { width, height })
        }
    }

    /// Shrinks the viewport to fit within `max` (both sides), keeping its aspect ratio.
    pub fn fit_within(self, max: Viewport) -> Viewport {
        if self.width <= max.width && self.height <= max.height {
            return self;
        }
        let (w, h) = (self.width as u64, self.height as u64);
        // Scale by the tighter of the two ratios, in integers.
        let (num, den) = if w * max.height as u64 > h * max.width as u64 {
            (max.width as u64, w)
        } else {
            (max.height as u64, h)
        };
        let nw = (w * num / den).clamp(Self::MIN.0 as u64, max.width as u64);
        let nh = (h * num / den).clamp(Self::MIN.1 as u64, max.height as u64);
        Viewport {
            width: nw as u16,
            height: nh as u16,
        }
    }

    pub fn width(self) -> usize {
        self.width as usize
    }

    pub fn height(self) -> usize {
        self.height as usize
    }

    /// Bytes in one palette-indexed frame.
    pub fn pixels(self) -> usize {
        self.width() * self.height()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn viewport_bounds() {
        assert!(Viewport::new(64, 48).is_ok());
        assert!(Viewport::new(1920, 1080).is_ok());
        assert_eq!(
            Viewport::new(63, 48),
            Err(ViewportError {
                width: 63,
                height: 48
            })
        );
        assert!(Viewport::new(1921, 1080).is_err());
        assert!(Viewport::new(640, 1081).is_err());
    }

    #[test]
    fn fit_within_keeps_aspect() {
        let max = Viewport::new(800, 450).unwrap();
        let fit = |w, h| {
            let v = Viewport::new(w, h).unwrap().fit_within(max);
            (v.width(), v.height())
        };
        assert_eq!(fit(1920, 1080), (800, 450));
        assert_eq!(fit(1440, 1080), (600, 450));
        assert_eq!(fit(320, 200), (320, 200));
        assert_eq!(fit(1920, 480), (800, 200));
    }

    #[test]
    fn sanitize_replaces_nan_and_clamps() {
        let c = Camera {
            x: f32::NAN,
            y: f32::INFINITY,
            altitude: 1.0e9,
            yaw: f32::NEG_INFINITY,
            horizon: 7.0,
            distance: 0.0,
            fov: f32::NAN,
        }
        .sanitized();
        assert_eq!(c.x, 0.0);
        assert_eq!(c.y, 1.0e6);
        assert_eq!(c.altitude, Camera::MAX_ALTITUDE);
        assert_eq!(c.yaw, -1.0e4);
        assert_eq!(c.horizon, Camera::MAX_HORIZON);
        assert_eq!(c.distance, Camera::MIN_DISTANCE);
        assert_eq!(c.fov, core::f32::consts::FRAC_PI_2);
    }
}

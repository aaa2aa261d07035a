//! One player's H.264 stream: palette frames in, one access unit (Annex B) out per frame.
//!
//! OpenH264 (BSD-2, built from the `openh264` crate's bundled source with nasm), Main
//! profile with CABAC (0.2 dB better than baseline's CAVLC at the same rate, see
//! docs/BENCHMARKS.md), set up for interactive use: no B-frames, no lookahead, one thread (the render
//! pool already uses every core), no periodic key frames (one on demand instead), no
//! skipped frames (a frame we send must decode to the picture we rendered).

use super::yuv::{Picture, YuvTable};
use openh264::encoder::{
    BitRate, Complexity, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, Profile,
    QpRange, RateControlMode, UsageType, VuiConfig,
};
use openh264::formats::YUVSlices;
use shared::map::Palette;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum VideoError {
    #[error("video encoder: {0}")]
    Encoder(#[from] openh264::Error),
}

/// How a stream starts; the rate changes while it runs ([`VideoEncoder::set_bitrate`]).
/// The rest is fixed by measurement (docs/BENCHMARKS.md, "What was tried"): medium
/// complexity, bitrate control, quantisers 10–42, OpenH264's adaptive quantisation and
/// background detection, deblocking on.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub bitrate: u32,
    pub fps: f32,
    pub usage: UsageType,
    /// CABAC entropy coding (Main profile) instead of CAVLC (baseline).
    pub cabac: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            bitrate: 2_850_000,
            fps: 60.0,
            usage: UsageType::CameraVideoRealTime,
            cabac: true,
        }
    }
}

/// What one frame became.
pub struct Encoded<'a> {
    /// The access unit, Annex B (start codes before each NAL unit).
    pub data: &'a [u8],
    /// An IDR frame: the decoder can start here.
    pub key: bool,
}

pub struct VideoEncoder {
    encoder: Encoder,
    table: YuvTable,
    picture: Picture,
    out: Vec<u8>,
    bitrate: u32,
    /// The next frame must be a key frame (a new stream always starts with one).
    key_wanted: bool,
    cabac: bool,
    /// The picture size the encoder was started at (see [`VideoEncoder::start`]).
    started: Option<(usize, usize)>,
}

impl VideoEncoder {
    pub fn new(palette: &Palette, settings: Settings) -> Result<VideoEncoder, VideoError> {
        let config = EncoderConfig::new()
            .bitrate(BitRate::from_bps(settings.bitrate))
            .max_frame_rate(FrameRate::from_hz(settings.fps))
            .rate_control_mode(RateControlMode::Bitrate)
            .usage_type(settings.usage)
            .complexity(Complexity::Medium)
            .profile(Profile::Baseline)
            .qp(QpRange::new(10, 42))
            .skip_frames(false)
            .num_threads(1)
            .intra_frame_period(IntraFramePeriod::from_num_frames(0))
            .scene_change_detect(false)
            .vui(VuiConfig::bt601());
        let encoder = Encoder::with_api_config(openh264::OpenH264API::from_source(), config)?;
        Ok(VideoEncoder {
            encoder,
            table: YuvTable::new(palette),
            picture: Picture::default(),
            out: Vec::new(),
            bitrate: settings.bitrate,
            key_wanted: true,
            cabac: settings.cabac,
            started: None,
        })
    }

    /// The next frame will be a key frame: a decoder (re)starts there.
    pub fn want_key(&mut self) {
        self.key_wanted = true;
    }

    pub fn bitrate(&self) -> u32 {
        self.bitrate
    }

    /// Changes the target rate from the next frame on, without a key frame.
    pub fn set_bitrate(&mut self, bps: u32) {
        if bps == self.bitrate {
            return;
        }
        self.bitrate = bps;
        let mut info = openh264_sys2::SBitrateInfo {
            iLayer: openh264_sys2::SPATIAL_LAYER_ALL,
            iBitrate: bps.min(i32::MAX as u32) as i32,
        };
        // SAFETY: the encoder is initialised (`Encoder` owns it until dropped) and
        // ENCODER_OPTION_BITRATE reads one `SBitrateInfo`, which lives across the call.
        unsafe {
            let raw = self.encoder.raw_api();
            raw.set_option(
                openh264_sys2::ENCODER_OPTION_BITRATE,
                std::ptr::addr_of_mut!(info).cast(),
            );
        }
    }

    /// Encodes the frame the renderer left in `columns` (see
    /// [`shared::Renderer::columns`]). The picture the encoder saw stays readable through
    /// [`VideoEncoder::picture`] until the next call.
    pub fn encode_columns(
        &mut self,
        columns: &[u8],
        stride: usize,
        width: usize,
        height: usize,
    ) -> Result<Encoded<'_>, VideoError> {
        self.picture
            .fill_from_columns(&self.table, columns, stride, width, height);
        // (A new size restarts the stream with a key frame by itself.)
        if std::mem::take(&mut self.key_wanted) {
            self.encoder.force_intra_frame();
        }
        self.start()?;
        let p = &self.picture;
        let source = YUVSlices::new(
            (&p.y, &p.u, &p.v),
            (p.width, p.height),
            (p.width, p.width / 2, p.width / 2),
        );
        let stream = self.encoder.encode(&source)?;
        let key = stream.frame_type() == FrameType::IDR;
        self.out.clear();
        stream.write_vec(&mut self.out);
        Ok(Encoded {
            data: &self.out,
            key,
        })
    }

    /// OpenH264 takes CABAC (with the Main profile) only once running, and forgets it
    /// when the picture size changes: then one frame is encoded to start it, thrown
    /// away, the setting applied, and the real frame made a key frame.
    fn start(&mut self) -> Result<(), VideoError> {
        let size = (self.picture.width, self.picture.height);
        if self.started == Some(size) {
            return Ok(());
        }
        let p = &self.picture;
        let source = YUVSlices::new(
            (&p.y, &p.u, &p.v),
            (p.width, p.height),
            (p.width, p.width / 2, p.width / 2),
        );
        self.encoder.encode(&source)?;
        if self.cabac {
            self.tune(|p| {
                p.iEntropyCodingModeFlag = 1;
                p.sSpatialLayers[0].uiProfileIdc = openh264_sys2::PRO_MAIN;
            });
        }
        self.started = Some(size);
        self.encoder.force_intra_frame();
        Ok(())
    }

    fn tune(&mut self, change: impl FnOnce(&mut openh264_sys2::SEncParamExt)) {
        // SAFETY: the encoder is initialised (it encoded a frame); GetOption copies its
        // parameters into a whole `SEncParamExt` that lives across both calls, and
        // SetOption reads the same struct back.
        unsafe {
            let raw = self.encoder.raw_api();
            let mut params = openh264_sys2::SEncParamExt::default();
            let p = std::ptr::addr_of_mut!(params).cast();
            if raw.get_option(openh264_sys2::ENCODER_OPTION_SVC_ENCODE_PARAM_EXT, p) == 0 {
                change(&mut params);
                raw.set_option(openh264_sys2::ENCODER_OPTION_SVC_ENCODE_PARAM_EXT, p);
            }
        }
    }

    pub fn picture(&self) -> &Picture {
        &self.picture
    }
}

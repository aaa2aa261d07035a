//! Showing a frame of palette indices on the canvas, behind one `show` call.
//!
//! WebGL2 when the browser has it: the indices go up as a one-byte-a-pixel integer
//! texture straight from wasm memory, the palette as a 256x1 texture, and a fragment
//! shader looks each pixel up with `texelFetch` (no filtering, so the pixels are exactly
//! the palette's). That skips expanding to RGBA and `putImageData`, which cost more than
//! rendering at large sizes. The 2-D canvas (expand, then `putImageData`) is the fallback.
//! Either way, late warp shifts the picture by whole pixels.

use shared::Palette;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{
    CanvasRenderingContext2d, HtmlCanvasElement, ImageData, WebGl2RenderingContext as Gl,
    WebGlProgram, WebGlShader, WebGlTexture, WebGlUniformLocation,
};

pub enum Display {
    Gl(GlDisplay),
    Canvas(CanvasDisplay),
}

/// Which way to show frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choice {
    /// WebGL2 on a GPU; the 2-D canvas where WebGL2 is missing or drawn in software
    /// (there a full-canvas draw costs several times the 2-D path: measured in
    /// `cargo xtask bench wasm`).
    Auto,
    WebGl2,
    Canvas2d,
}

impl Choice {
    /// From the page's `?display=` parameter.
    pub fn from_param(param: Option<&str>) -> Choice {
        match param {
            Some("2d") => Choice::Canvas2d,
            Some("webgl2") => Choice::WebGl2,
            _ => Choice::Auto,
        }
    }
}

impl Display {
    /// A display on `canvas` as `choice` says, falling back to the 2-D canvas.
    pub fn new(canvas: &HtmlCanvasElement, choice: Choice) -> Result<Display, JsValue> {
        let webgl = match choice {
            Choice::WebGl2 => true,
            Choice::Canvas2d => false,
            // Asked of another canvas: one that had a WebGL context never gives a 2-D one.
            Choice::Auto => software_webgl().is_some_and(|software| !software),
        };
        if webgl {
            match GlDisplay::new(canvas) {
                Ok(Some(gl)) => return Ok(Display::Gl(gl)),
                Ok(None) => {}
                Err(e) => web_sys::console::warn_2(&"WebGL2 unusable, using 2-D".into(), &e),
            }
        }
        Ok(Display::Canvas(CanvasDisplay::new(canvas)?))
    }

    /// "webgl2" or "2d", for the page's data attributes and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            Display::Gl(_) => "webgl2",
            Display::Canvas(_) => "2d",
        }
    }

    /// Waits until what was shown is drawn (reads one pixel back), for benchmarks.
    pub fn sync(&self) {
        if let Display::Gl(g) = self {
            let mut pixel = [0u8; 4];
            let _ = g.gl.read_pixels_with_opt_u8_array(
                0,
                0,
                1,
                1,
                Gl::RGBA,
                Gl::UNSIGNED_BYTE,
                Some(&mut pixel),
            );
        }
    }

    /// Shows `indices` (`width` x `height`, row by row) through `palette`, shifted by
    /// `shift` pixels (the picture moves left and up for positive values).
    pub fn show(
        &mut self,
        indices: &[u8],
        (width, height): (u32, u32),
        palette: &Palette,
        shift: (i32, i32),
    ) {
        match self {
            Display::Gl(gl) => gl.show(indices, width, height, palette, shift),
            Display::Canvas(c) => c.show(indices, width, height, palette, shift),
        }
    }
}

pub struct GlDisplay {
    gl: Gl,
    _program: WebGlProgram,
    frame: WebGlTexture,
    palette: WebGlTexture,
    shift: Option<WebGlUniformLocation>,
    size: Option<WebGlUniformLocation>,
    /// Size of the frame texture, and the palette uploaded (first entry, a cheap check).
    tex_size: (u32, u32),
    palette_id: Option<[[u8; 3]; 4]>,
}

const VERTEX: &str = "#version 300 es
void main() {
    // One triangle that covers the viewport, from the vertex number alone.
    vec2 p = vec2(float((gl_VertexID << 1) & 2), float(gl_VertexID & 2));
    gl_Position = vec4(p * 2.0 - 1.0, 0.0, 1.0);
}";

const FRAGMENT: &str = "#version 300 es
precision highp float;
precision highp int;
precision highp usampler2D;
uniform usampler2D frame;
uniform sampler2D palette;
uniform ivec2 size;
uniform ivec2 shift;
out vec4 colour;
void main() {
    ivec2 p = ivec2(gl_FragCoord.xy);
    p.y = size.y - 1 - p.y; // row 0 of the frame is the top of the canvas
    p = clamp(p + shift, ivec2(0), size - 1);
    uint i = texelFetch(frame, p, 0).r;
    colour = texelFetch(palette, ivec2(int(i), 0), 0);
}";

impl GlDisplay {
    /// `Ok(None)` when the browser has no WebGL2 for this canvas.
    fn new(canvas: &HtmlCanvasElement) -> Result<Option<GlDisplay>, JsValue> {
        let options = js_sys::Object::new();
        for (key, value) in [
            ("alpha", false),
            ("antialias", false),
            ("depth", false),
            ("stencil", false),
            // Tests read the canvas back between frames.
            ("preserveDrawingBuffer", true),
        ] {
            js_sys::Reflect::set(&options, &key.into(), &value.into())?;
        }
        let Some(ctx) = canvas.get_context_with_context_options("webgl2", &options)? else {
            return Ok(None);
        };
        let gl: Gl = ctx.dyn_into()?;
        let program = link(&gl)?;
        gl.use_program(Some(&program));
        let frame = texture(&gl, 0)?;
        let palette = texture(&gl, 1)?;
        gl.uniform1i(gl.get_uniform_location(&program, "frame").as_ref(), 0);
        gl.uniform1i(gl.get_uniform_location(&program, "palette").as_ref(), 1);
        gl.pixel_storei(Gl::UNPACK_ALIGNMENT, 1);
        Ok(Some(GlDisplay {
            shift: gl.get_uniform_location(&program, "shift"),
            size: gl.get_uniform_location(&program, "size"),
            gl,
            _program: program,
            frame,
            palette,
            tex_size: (0, 0),
            palette_id: None,
        }))
    }

    fn show(&mut self, indices: &[u8], w: u32, h: u32, palette: &Palette, shift: (i32, i32)) {
        let gl = &self.gl;
        let id = [palette.0[0], palette.0[1], palette.0[128], palette.0[255]];
        if self.palette_id != Some(id) {
            let rgba: Vec<u8> = palette
                .0
                .iter()
                .flat_map(|c| [c[0], c[1], c[2], 255])
                .collect();
            gl.active_texture(Gl::TEXTURE1);
            gl.bind_texture(Gl::TEXTURE_2D, Some(&self.palette));
            let _ = gl.tex_image_2d_with_i32_and_i32_and_i32_and_format_and_type_and_opt_u8_array(
                Gl::TEXTURE_2D,
                0,
                Gl::RGBA8 as i32,
                256,
                1,
                0,
                Gl::RGBA,
                Gl::UNSIGNED_BYTE,
                Some(&rgba),
            );
            self.palette_id = Some(id);
        }
        gl.active_texture(Gl::TEXTURE0);
        gl.bind_texture(Gl::TEXTURE_2D, Some(&self.frame));
        let (wi, hi) = (w as i32, h as i32);
        if self.tex_size != (w, h) {
            let _ = gl.tex_image_2d_with_i32_and_i32_and_i32_and_format_and_type_and_opt_u8_array(
                Gl::TEXTURE_2D,
                0,
                Gl::R8UI as i32,
                wi,
                hi,
                0,
                Gl::RED_INTEGER,
                Gl::UNSIGNED_BYTE,
                Some(indices),
            );
            self.tex_size = (w, h);
            gl.viewport(0, 0, wi, hi);
            gl.uniform2i(self.size.as_ref(), wi, hi);
        } else {
            let _ = gl.tex_sub_image_2d_with_i32_and_i32_and_u32_and_type_and_opt_u8_array(
                Gl::TEXTURE_2D,
                0,
                0,
                0,
                wi,
                hi,
                Gl::RED_INTEGER,
                Gl::UNSIGNED_BYTE,
                Some(indices),
            );
        }
        gl.uniform2i(self.shift.as_ref(), shift.0, shift.1);
        gl.draw_arrays(Gl::TRIANGLES, 0, 3);
    }
}

/// Whether this browser draws WebGL2 on the CPU (SwiftShader, llvmpipe), as the
/// driver's name says, asked of a throwaway canvas; `None` without WebGL2.
fn software_webgl() -> Option<bool> {
    const UNMASKED_RENDERER_WEBGL: u32 = 0x9246;
    let document = web_sys::window()?.document()?;
    let probe: HtmlCanvasElement = document.create_element("canvas").ok()?.dyn_into().ok()?;
    let gl: Gl = probe.get_context("webgl2").ok()??.dyn_into().ok()?;
    let has_info = gl
        .get_extension("WEBGL_debug_renderer_info")
        .ok()
        .flatten()
        .is_some();
    let name = gl
        .get_parameter(if has_info {
            UNMASKED_RENDERER_WEBGL
        } else {
            Gl::RENDERER
        })
        .ok()?
        .as_string()?
        .to_ascii_lowercase();
    Some(
        ["swiftshader", "llvmpipe", "software"]
            .iter()
            .any(|s| name.contains(s)),
    )
}

/// A texture sampled exactly (nearest, no mipmaps, clamped), bound to `unit`.
fn texture(gl: &Gl, unit: u32) -> Result<WebGlTexture, JsValue> {
    let t = gl.create_texture().ok_or("cannot create a texture")?;
    gl.active_texture(Gl::TEXTURE0 + unit);
    gl.bind_texture(Gl::TEXTURE_2D, Some(&t));
    for (name, value) in [
        (Gl::TEXTURE_MIN_FILTER, Gl::NEAREST),
        (Gl::TEXTURE_MAG_FILTER, Gl::NEAREST),
        (Gl::TEXTURE_WRAP_S, Gl::CLAMP_TO_EDGE),
        (Gl::TEXTURE_WRAP_T, Gl::CLAMP_TO_EDGE),
    ] {
        gl.tex_parameteri(Gl::TEXTURE_2D, name, value as i32);
    }
    Ok(t)
}

fn link(gl: &Gl) -> Result<WebGlProgram, JsValue> {
    let program = gl.create_program().ok_or("cannot create a program")?;
    let vs = compile(gl, Gl::VERTEX_SHADER, VERTEX)?;
    let fs = compile(gl, Gl::FRAGMENT_SHADER, FRAGMENT)?;
    gl.attach_shader(&program, &vs);
    gl.attach_shader(&program, &fs);
    gl.link_program(&program);
    let linked = gl
        .get_program_parameter(&program, Gl::LINK_STATUS)
        .as_bool()
        .unwrap_or(false);
    if !linked {
        let log = gl.get_program_info_log(&program).unwrap_or_default();
        return Err(format!("shader link: {log}").into());
    }
    Ok(program)
}

fn compile(gl: &Gl, kind: u32, source: &str) -> Result<WebGlShader, JsValue> {
    let shader = gl.create_shader(kind).ok_or("cannot create a shader")?;
    gl.shader_source(&shader, source);
    gl.compile_shader(&shader);
    let ok = gl
        .get_shader_parameter(&shader, Gl::COMPILE_STATUS)
        .as_bool()
        .unwrap_or(false);
    if !ok {
        let log = gl.get_shader_info_log(&shader).unwrap_or_default();
        return Err(format!("shader compile: {log}").into());
    }
    Ok(shader)
}

pub struct CanvasDisplay {
    ctx: CanvasRenderingContext2d,
    rgba: Vec<u8>,
}

impl CanvasDisplay {
    fn new(canvas: &HtmlCanvasElement) -> Result<CanvasDisplay, JsValue> {
        Ok(CanvasDisplay {
            ctx: crate::web::context(canvas)?,
            rgba: Vec::new(),
        })
    }

    fn show(&mut self, indices: &[u8], w: u32, h: u32, palette: &Palette, shift: (i32, i32)) {
        self.rgba.resize(indices.len() * 4, 0);
        palette.expand_rgba(indices, &mut self.rgba);
        match ImageData::new_with_u8_clamped_array_and_sh(Clamped(&self.rgba), w, h) {
            Ok(image) => {
                // What the shift uncovers keeps the last picture's pixels.
                let (dx, dy) = (-shift.0 as f64, -shift.1 as f64);
                let _ = self.ctx.put_image_data(&image, dx, dy);
            }
            Err(e) => web_sys::console::error_2(&"cannot draw the frame".into(), &e),
        }
    }
}

//! The tray icon: shows the unread count (a red dot on the icon and the tooltip), opens
//! the window, quits. Where the desktop has no tray the app works the same without it.

use tauri::image::Image;
use tauri::menu::{Menu, MenuItem};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Runtime};

const TRAY_ID: &str = "main";

/// The app icon, decoded once for the tray (plain and badged).
pub struct TrayIcons {
    plain: Image<'static>,
    badged: Image<'static>,
}

impl TrayIcons {
    fn load() -> Option<TrayIcons> {
        let png = include_bytes!("../../icons/32x32.png");
        let rgba = image::load_from_memory(png).ok()?.to_rgba8();
        let (w, h) = rgba.dimensions();
        let plain = Image::new_owned(rgba.clone().into_raw(), w, h);
        let mut dotted = rgba;
        // A red dot in the top-right quarter.
        let r = (w / 4) as i64;
        let (cx, cy) = (i64::from(w) - r - 1, r + 1);
        for (x, y, px) in dotted.enumerate_pixels_mut() {
            let (dx, dy) = (i64::from(x) - cx, i64::from(y) - cy);
            if dx * dx + dy * dy <= r * r {
                *px = image::Rgba([230, 40, 40, 255]);
            }
        }
        let badged = Image::new_owned(dotted.into_raw(), w, h);
        Some(TrayIcons { plain, badged })
    }
}

pub fn install<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<TrayIcon<R>> {
    let show = MenuItem::with_id(app, "show", "打开包讯 / Open Satchel", true, None::<&str>)?;
    let quit = MenuItem::with_id(app, "quit", "退出 / Quit", true, None::<&str>)?;
    let menu = Menu::with_items(app, &[&show, &quit])?;
    let icons = TrayIcons::load();
    let mut builder = TrayIconBuilder::with_id(TRAY_ID)
        .tooltip("包讯 Satchel")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id().as_ref() {
            "show" => crate::show_main_window(app),
            "quit" => app.exit(0),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                crate::show_main_window(tray.app_handle());
            }
        });
    if let Some(icons) = &icons {
        builder = builder.icon(icons.plain.clone());
    }
    let tray = builder.build(app)?;
    if let Some(icons) = icons {
        app.manage(icons);
    }
    Ok(tray)
}

/// Shows `unread` on the tray icon and the window's badge (where the OS has one).
pub fn set_unread<R: Runtime>(app: &AppHandle<R>, unread: u32) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let tooltip = if unread == 0 {
            "包讯 Satchel".to_owned()
        } else {
            format!("包讯 Satchel — {unread} 条未读 / unread")
        };
        let _ = tray.set_tooltip(Some(tooltip));
        if let Some(icons) = app.try_state::<TrayIcons>() {
            let icon = if unread == 0 {
                &icons.plain
            } else {
                &icons.badged
            };
            let _ = tray.set_icon(Some(icon.clone()));
        }
    }
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.set_badge_count((unread > 0).then_some(i64::from(unread)));
    }
}

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
    app.manage(Flashing::default());
    Ok(tray)
}

/// Set while the tray icon flashes (a notification could not be shown).
#[derive(Default)]
pub struct Flashing(std::sync::atomic::AtomicBool);

/// Flashes the tray icon until the main window has focus: the fallback where the
/// desktop cannot show notifications. The notification itself is in the in-app list.
pub fn flash<R: Runtime>(app: &AppHandle<R>) {
    let Some(flag) = app.try_state::<Flashing>() else {
        return;
    };
    if flag.0.swap(true, std::sync::atomic::Ordering::SeqCst) {
        return;
    }
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let mut on = false;
        while !crate::window_focused(&app) {
            on = !on;
            if let (Some(tray), Some(icons)) =
                (app.tray_by_id(TRAY_ID), app.try_state::<TrayIcons>())
            {
                let icon = if on { &icons.badged } else { &icons.plain };
                let _ = tray.set_icon(Some(icon.clone()));
            }
            if let Some(window) = app.get_webview_window("main") {
                let _ =
                    window.request_user_attention(Some(tauri::UserAttentionType::Informational));
            }
            tokio::time::sleep(std::time::Duration::from_millis(600)).await;
        }
        if let Some(flag) = app.try_state::<Flashing>() {
            flag.0.store(false, std::sync::atomic::Ordering::SeqCst);
        }
        // Back to the icon the unread count calls for.
        let shell = app.state::<crate::shell::Shell>();
        if let Ok(list) = shell.engine.conversations().await {
            set_unread(&app, unread_badge(&list));
        }
    });
}

/// The count the badge shows: unread messages outside muted conversations.
pub fn unread_badge(list: &[satchel_client::ConversationSummary]) -> u32 {
    let unread: i64 = list.iter().filter(|c| !c.muted).map(|c| c.unread).sum();
    u32::try_from(unread).unwrap_or(u32::MAX)
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

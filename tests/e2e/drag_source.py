#!/usr/bin/env python3
"""A tiny GTK window that offers files for drag-and-drop, as a file manager would.

Usage: drag_source.py X Y FILE...   Prints "ready" once the window is on screen. The e2e
test then drags from it into the app with xdotool, so the app receives a real OS drop
(text/uri-list) exactly as from Explorer or Finder.
"""
import sys
from pathlib import Path

import gi

gi.require_version("Gtk", "3.0")
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk, GLib, Gtk  # noqa: E402

x, y = int(sys.argv[1]), int(sys.argv[2])
uris = [Path(p).resolve().as_uri() for p in sys.argv[3:]]

window = Gtk.Window(title="drag source")
window.set_default_size(120, 120)
window.move(x, y)
box = Gtk.EventBox()
box.add(Gtk.Label(label="DRAG ME"))
window.add(box)
box.drag_source_set(Gdk.ModifierType.BUTTON1_MASK, [], Gdk.DragAction.COPY)
box.drag_source_add_uri_targets()


def on_get(_widget, _context, data, _info, _time):
    data.set_uris(uris)


box.connect("drag-data-get", on_get)
window.connect("destroy", Gtk.main_quit)


def announce():
    print("ready", flush=True)
    return False


window.connect("map-event", lambda *_: GLib.timeout_add(300, announce))
window.show_all()
Gtk.main()

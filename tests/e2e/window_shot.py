#!/usr/bin/env python3
"""Saves a PNG of one X window (by id), for windows WebDriver cannot reach.

Usage: window_shot.py WINDOW_ID OUT.png   Prints the window's size.
"""
import sys

import gi

gi.require_version("Gdk", "3.0")
gi.require_version("GdkX11", "3.0")
from gi.repository import Gdk, GdkX11  # noqa: E402

xid, out = int(sys.argv[1]), sys.argv[2]
display = GdkX11.X11Display.get_default()
window = GdkX11.X11Window.foreign_new_for_display(display, xid)
width, height = window.get_width(), window.get_height()
pixbuf = Gdk.pixbuf_get_from_window(window, 0, 0, width, height)
if pixbuf is None:
    sys.exit("the window has no pixels to read")
pixbuf.savev(out, "png", [], [])
print(f"{width}x{height}")

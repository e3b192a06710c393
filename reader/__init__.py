"""The reader's edition of the course: a static website built from `solutions/`.

`reader.build` executes the lessons and writes the site; `reader.browser` checks it in headless
Chromium (console errors, images, math, solution reveals, navigation) and takes a screenshot.
"""

// Jupyter Notebook 6 loads this path on every notebook open when ipywidgets is not installed (the
// "hardcoded widgets hack" in its main.js), which logs a 404 and a warning in the browser console. The
// workbench uses no widgets, so this extension does nothing; it is served because kernel-setup/jupyter is
// on JUPYTER_PATH (src/notebooks/jupyter.ts).
define([], function () {
  return { load_ipython_extension: function () {} };
});

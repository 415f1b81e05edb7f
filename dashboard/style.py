"""The app's CSS, inlined into the page template (no assets folder to package or serve)."""

FONT = '-apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'

CSS = (
    """
:root { --font: """
    + FONT
    + """; }
body { margin: 0; font-family: var(--font); font-size: 14px; color: #1f2933; background: #fafafa; }
.nav { display: flex; gap: 18px; align-items: center; padding: 10px 24px; background: #1f2933; }
.nav .brand { color: #fff; font-weight: 700; margin-right: 12px; }
.nav .navlink { color: #cbd2d9; text-decoration: none; }
.nav .navlink.active, .nav .navlink:hover { color: #fff; }
.page { padding: 12px 24px 40px; max-width: 1500px; margin: 0 auto; }
h1, h2 { margin: 8px 0 6px; font-size: 22px; }
.verdict { background: #fff; border: 1px solid #d9dee5; border-left: 4px solid #0072B2;
           padding: 8px 12px; margin: 8px 0; line-height: 1.5; }
.verdict .hint { margin: 2px 0 0; }
.verdict-title { font-weight: 600; }
.verdict-word { padding: 1px 8px; border-radius: 8px; background: #e4e7eb; }
.verdict-word.yes { background: #0072B2; color: #fff; }
.verdict-word.no { background: #fdf0d5; color: #7a4b00; }
.explainer { margin: 6px 0 10px; }
.explainer summary { cursor: pointer; color: #0a4f8a; }
.explainer dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 12px;
                background: #fff; padding: 8px 12px; border: 1px solid #e4e7eb; }
.explainer dt { font-weight: 600; }
.explainer dd { margin: 0; }
figure.graph-box { margin: 0; }
a:focus-visible, [tabindex]:focus-visible, .tab:focus-visible { outline: 3px solid #E69F00; }
h3 { margin: 22px 0 6px; font-size: 16px; border-bottom: 1px solid #e4e7eb; padding-bottom: 4px; }
.hint { color: #52606d; font-size: 13px; margin: 4px 0 8px; }
.error { color: #b91c1c; padding: 8px; }
.badge { font-size: 12px; font-weight: 600; border-radius: 10px; padding: 2px 9px;
         margin-left: 10px; vertical-align: middle; background: #e4e7eb; }
.badge.running { background: #dbeafe; color: #1d4ed8; }
.badge.complete { background: #dcfce7; color: #15803d; }
.badge.crashed, .badge.interrupted { background: #fee2e2; color: #b91c1c; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 4px 0; }
.chip { background: #fff; border: 1px solid #e4e7eb; border-radius: 6px; padding: 2px 8px; }
.grid2 { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
@media (max-width: 1100px) { .grid2 { grid-template-columns: 1fr; } }
.graph, .js-plotly-plot { background: #fff; }
.control-row { display: flex; flex-wrap: wrap; gap: 16px; align-items: flex-end; margin: 6px 0; }
.controls { display: grid; grid-template-columns: 300px minmax(380px, 560px); gap: 2px 16px;
            align-items: center; }
.controls .ctl-label { grid-row: 1; }
.ctl-label { font-size: 12px; color: #52606d; display: block; margin-bottom: 2px; }
.ctl-layer { min-width: 260px; max-width: 440px; }
.dash-table-container .cell-markdown p { margin: 0; }
.dash-table-container .dash-filter input { text-align: left; }
.ctl-slider { min-width: 380px; padding-top: 6px; }
.ctl-slider.narrow { max-width: 640px; }
table.summary { border-collapse: collapse; background: #fff; font-size: 13px; margin-top: 6px; }
table.summary th, table.summary td { border: 1px solid #e4e7eb; padding: 4px 8px;
                                     text-align: left; }
table.summary th[title] { cursor: help; text-decoration: underline dotted; }
table.summary th { background: #f3f4f6; font-weight: 600; }
.actions { margin: 10px 0; }
ul.bad { color: #7c2d12; }
.dash-table-container .dash-spreadsheet-container .dash-spreadsheet-inner td,
.dash-table-container .dash-spreadsheet-container .dash-spreadsheet-inner th,
.dash-table-container .dash-spreadsheet-container .dash-spreadsheet-inner td div,
.dash-table-container .dash-spreadsheet-container .dash-spreadsheet-inner input,
.dash-table-container .dash-spreadsheet-container .dash-spreadsheet-inner th span,
.dash-table-container .dash-spreadsheet-container .dash-spreadsheet-inner .column-header-name
  { font-family: var(--font); }
"""
)

#: Page behaviour Dash has no prop for: the document title from the page's
#: ``main[data-title]``; the tables' filter case toggles out of the tab order (a keyboard
#: user would otherwise tab through one per column before reaching a run); Tab on a row's
#: checkbox or link kept from the table (it takes Tab for cell navigation and would hold
#: the focus there); dcc.Tabs' tabs focusable and opened by Enter or Space; run links in
#: tables followed client-side, as dcc.Link does (no reload of the scripts).
SITE_JS = """<script>(function(){
function tidy(){
  var m=document.querySelector('main[data-title]');
  if(m){var t=m.getAttribute('data-title')+' \u00b7 cascade-shedding';
    if(document.title!==t)document.title=t;}
  document.querySelectorAll('input.dash-filter--case').forEach(function(b){
    if(b.tabIndex!==-1)b.tabIndex=-1;});
  document.querySelectorAll('.tab-container').forEach(function(c){
    if(c.getAttribute('role')!=='tablist')c.setAttribute('role','tablist');});
  document.querySelectorAll('.tab-container .tab').forEach(function(t){
    if(t.tabIndex!==0)t.tabIndex=0;if(t.getAttribute('role')!=='tab')t.setAttribute('role','tab');
    var sel=t.classList.contains('tab--selected')?'true':'false';
    if(t.getAttribute('aria-selected')!==sel)t.setAttribute('aria-selected',sel);});
}
document.addEventListener('keydown',function(e){
  var t=e.target;if(!t.closest)return;
  if(t.closest('.dash-table-container')&&(e.key==='Tab'&&t.matches('input[type=checkbox],a')
     ||e.key==='Enter'&&t.matches('a')))e.stopPropagation();
  if((e.key==='Enter'||e.key===' ')&&t.matches('.tab-container .tab')){
    e.preventDefault();t.click();}
},true);
new MutationObserver(tidy).observe(document.documentElement,{childList:true,subtree:true});
document.addEventListener('click',function(e){
  var a=e.target.closest&&e.target.closest('.dash-table-container a[href^="/"]');
  if(!a||e.button!==0||e.metaKey||e.ctrlKey||e.shiftKey||e.altKey)return;
  e.preventDefault();e.stopPropagation();
  window.history.pushState({},'',a.getAttribute('href'));
  window.dispatchEvent(new CustomEvent('_dashprivate_pushstate'));window.scrollTo(0,0);
},true);
})();</script>"""

INDEX_STRING = (
    """<!DOCTYPE html>
<html lang="en">
    <head>
        {%metas%}
        <title>{%title%}</title>
        {%favicon%}
        {%css%}
        <style>"""
    + CSS
    + """</style>
    </head>
    <body>
        """
    + SITE_JS
    + """
        {%app_entry%}
        <footer>
            {%config%}
            {%scripts%}
            {%renderer%}
        </footer>
    </body>
</html>"""
)

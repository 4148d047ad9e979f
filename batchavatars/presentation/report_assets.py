"""The report's inline CSS and script, kept apart from the HTML it styles. Both go into the page
itself: a report opened from file:// or a CI artifact fetches nothing but its preview images."""

from __future__ import annotations

import base64
import hashlib

# Colours meet WCAG AA (4.5:1) for text on the badge and page backgrounds.
CSS = """
:root{--fg:#1b1f24;--mut:#4a5361;--bg:#f6f7f9;--card:#fff;--line:#d0d7de;--acc:#0a58ca;
font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
body{margin:0}main,header.top{max-width:1240px;margin:0 auto;padding:16px 20px}main{padding-top:0}header.top{padding-bottom:0}
h1{font-size:1.5rem;margin:0 0 4px}h2{font-size:1.2rem;margin:24px 0 8px}h3{font-size:1.05rem;margin:0 0 6px}
a{color:var(--acc)}code{font:13px ui-monospace,SFMono-Regular,Menlo,monospace}
[hidden]{display:none!important}
:focus-visible{outline:3px solid #1f6feb;outline-offset:2px}
.sub{color:var(--mut);margin:0 0 8px}
.counts,.figs{display:flex;flex-wrap:wrap;gap:6px 14px;list-style:none;padding:0;margin:8px 0}
.figs li{color:var(--mut)}.figs b{color:var(--fg)}
.b{display:inline-block;font-style:normal;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;white-space:nowrap;
background:#eaeef2;color:#333d47}
.b-succeeded,[data-s=succeeded] .b{background:#dafbe1;color:#0f5323}.b-failed,[data-s=failed] .b{background:#ffe2e0;color:#8c1d18}
.b-blocked,[data-s=blocked] .b{background:#e6e6e6;color:#3d3d3d}.b-awaiting_consent,[data-s=awaiting_consent] .b{background:#fff1c2;color:#6b4400}
.b-training,[data-s=training] .b{background:#ddf4ff;color:#0a4a85}.b-unanswered,.b-creating,[data-s=unanswered] .b,[data-s=creating] .b{background:#f3e8ff;color:#5b2a86}
.b-pending,[data-s=pending] .b{background:#eef1f4;color:#3b4450}
.need{background:var(--card);border:1px solid var(--line);border-left:5px solid #b42318;border-radius:8px;
padding:12px 16px;margin:10px 0}.need.consent{border-left-color:#bf8700}.need.retry{border-left-color:#8250df}
.need.ok{border-left-color:#1a7f37}
table{border-collapse:collapse;width:100%;font-size:14px}th,td{text-align:left;padding:4px 8px;
border-top:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}th{font-weight:600}
.fix{margin:4px 0 8px}.fix b{color:#8c1d18}
button{font:inherit;font-size:13px;cursor:pointer;border:1px solid var(--line);background:#f6f8fa;color:var(--fg);
border-radius:6px;padding:1px 8px}button:hover{background:#eaeef2}
button.cp{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.controls{position:sticky;top:0;z-index:2;background:var(--bg);display:flex;flex-wrap:wrap;align-items:center;
gap:8px 16px;padding:8px 0;border-bottom:1px solid var(--line)}
.controls label{font-weight:600;margin-right:4px}select,input[type=search]{font:inherit;padding:3px 6px;
border:1px solid #8c959f;border-radius:6px;background:#fff;color:var(--fg)}input[type=search]{width:16rem}
#shown{color:var(--mut)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:14px;margin-top:12px}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px;
content-visibility:auto;contain-intrinsic-size:auto 420px}
.meta{color:var(--mut);font-size:13px;margin:0 0 8px}
.it{margin:0;display:flex;gap:10px;align-items:flex-start}
.it figcaption{display:flex;flex-direction:column;align-items:flex-start;gap:2px;min-width:0;font-size:13px}
.it .n{font-weight:600;overflow-wrap:anywhere}.it .k{color:var(--mut);overflow-wrap:anywhere}
.why{color:var(--mut);overflow-wrap:anywhere}
.th{position:relative;flex:none;width:72px;height:72px;border-radius:8px;overflow:hidden;
background:hsl(var(--h) 45% 42%);display:grid;place-items:center}
.lead .th{width:132px;height:132px}.lead .th i{font-size:40px}
.th i{font-style:normal}.th img{position:absolute;inset:0;width:100%;height:100%;object-fit:cover;background:#fff}
.th img.gone{display:none}
.th i{color:#fff;font-weight:700;font-size:22px;letter-spacing:1px}
.ph{background:repeating-linear-gradient(45deg,#eef1f4 0 8px,#e3e7eb 8px 16px)}.ph i{color:#3b4450}
.looks{list-style:none;margin:8px 0 0;padding:0 0 0 14px;border-left:2px solid var(--line);
display:flex;flex-direction:column;gap:8px}
.lead{margin-bottom:4px}
nav.pager{display:flex;gap:10px;align-items:center;justify-content:center;margin:16px 0}
#live{position:absolute;left:-9999px}
footer{color:var(--mut);font-size:13px;text-align:center;padding:20px}
"""

# Filtering (also from the address: report.html#status=failed&q=maya), paging, copy-to-clipboard. Cards stay in the DOM (the report works as a plain
# document too); the script only hides what is off the current page or filtered out.
JS = """(()=>{
const $=i=>document.getElementById(i),PER=+document.querySelector('.cards').dataset.per,fs=$('fs'),q=$('q'),live=$('live');
const cards=[...document.querySelectorAll('.card')].map(c=>({c,f:[...c.querySelectorAll('.it')].map(f=>({f,
s:f.dataset.s,t:(f.querySelector('.k').textContent+' '+f.querySelector('.n').textContent).toLowerCase()}))}));
let page=0,pages=1;
function apply(){const s=fs.value,t=q.value.trim().toLowerCase(),vis=[];let n=0;
for(const c of cards){let any=false;for(const x of c.f){const ok=(!s||x.s===s)&&(!t||x.t.includes(t));
if(x.f.hidden===ok)x.f.hidden=!ok;if(ok){any=true;n++}}if(any)vis.push(c.c);else c.c.hidden=true}
pages=Math.max(1,Math.ceil(vis.length/PER));page=Math.min(page,pages-1);
vis.forEach((c,i)=>{c.hidden=Math.floor(i/PER)!==page});
$('pg').textContent='Page '+(page+1)+' of '+pages;$('prev').disabled=page<=0;$('next').disabled=page>=pages-1;
$('shown').textContent=n+' items in '+vis.length+' characters';}
function changed(){page=0;apply();const h=new URLSearchParams();if(fs.value)h.set('status',fs.value);
if(q.value)h.set('q',q.value);try{history.replaceState(null,'','#'+h)}catch(_){}}
fs.addEventListener('change',changed);q.addEventListener('input',changed);
const h0=new URLSearchParams(location.hash.slice(1));if(h0.get('status'))fs.value=h0.get('status');
if(h0.get('q'))q.value=h0.get('q');
$('prev').addEventListener('click',()=>{page--;apply();$('chars').scrollIntoView()});
$('next').addEventListener('click',()=>{page++;apply();$('chars').scrollIntoView()});
document.addEventListener('click',async e=>{const b=e.target.closest('[data-copy],.cp');if(!b)return;
const t=b.dataset.copy||b.textContent;try{await navigator.clipboard.writeText(t)}catch(_){const a=document.createElement('textarea');
a.value=t;document.body.append(a);a.select();document.execCommand('copy');a.remove()}live.textContent='Copied '+t});
document.addEventListener('error',e=>{if(e.target.tagName==='IMG')e.target.classList.add('gone')},true);
for(const i of document.images)if(i.complete&&!i.naturalWidth)i.classList.add('gone');
apply();})();"""

# The page's Content-Security-Policy allows this script by its hash and nothing else: even a name
# that slipped past escaping could not run.
JS_HASH = "sha256-" + base64.b64encode(hashlib.sha256(JS.encode()).digest()).decode()
CSP = (
    "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
    f"script-src '{JS_HASH}'; base-uri 'none'; form-action 'none'"
)

"""The web edge: HTTP only. Entry point: `create_app(settings)` in app.py.

    app.py          create_app: routers, the engine and the one transport (composition root)
    server.py       the uvicorn configuration `digest serve` runs: timeouts, no proxy headers,
                    TCP_NODELAY
    workers.py      `digest serve --workers N`: N forked processes on one listening socket
    guard.py        the edge every request crosses: body limits, read deadline, HSTS
    client.py       the client's IP address (X-Forwarded-For only from trusted proxies)
    fallback.py     answers for unknown addresses (HTML 404 pages of the site); redirects built
                    from DIGEST_BASE_URL
    deps.py         request helpers: settings, engine, transport, read sessions, bounded bodies
    forms.py        small form or JSON bodies, read the same way everywhere
    pages.py        server-rendered pages (templates/web) with strict headers
    signup.py       GET /, POST /subscribe, GET /subscribe/stamp, GET|POST /preferences,
                    GET /unsubscribe
    embed.py        GET /embed: the signup box the comparison site frames (stamp, honeypot)
    subscription.py /confirm/{token}, /unsubscribe/{token}, /preferences/{token}
    reader_data.py  /data/{token}: download or erase one's data (short-lived link, emailed)
    reader_link.py  the reader a link's token names, as a dependency
    archive.py      /issues, /issues/{number} (and its share.png), /feed.xml
    issue_page.py   what an issue's web page shows: cards, share tags, JSON-LD, share image
    published.py    what the public pages show of the store, read at most once a second
    conditional.py  ETags, If-None-Match and If-Modified-Since: 304s for the public pages
    site.py         robots.txt, sitemap.xml, the favicon
    editor.py       the editor's preview, overrides and test copies
    editor_auth.py  editor sessions (accounts or the shared password), CSRF (also the login
                    form's), and the dependencies that require them
    editor_login.py GET|POST /editor/login, POST /editor/logout
    login_limits.py tries a login gets per client and per address; a browser that logged in
                    before is not locked out by a stranger's guesses (device cookie)
    return_to.py    after login, back to the desk page asked for (`next`, never off the desk)
    desk.py         the desk's overview (GET /editor), an issue's page (/editor/issues/{n}),
                    and their tables as CSV
    desk_readers.py /editor/readers: search, a reader's record, add, import, export, erase,
                    suppress, unsuppress (each audited)
    desk_clicks.py  the issue page's Clicks section and its per-link CSV (click figures)
    charts.py       the desk's charts as SVG geometry (bars, Gmail's complaint lines)
    editor_accounts.py  GET /editor/accounts, POST /editor/accounts/add|remove|owner (owners)
    desk_actions.py POST /editor/issues/{n}/approve|hold|send|pause|resume, GET /editor/audit
    api.py          POST /api/comparisons, GET /api/stats (bearer token)
    bearer.py       the API token: constant-time check, wrong guesses limited per client
    webhooks.py     POST /webhooks/resend
    clicks.py       GET|HEAD /r/{token}: a tracked link (or the open pixel), recorded, redirected
    hit_writer.py   HitWriter: clicks' hits queued by the redirect, written in batches by a thread
    signup_writer.py  SignupWriter: signups stored by one thread, many per transaction
    click_figures.py  GET /api/issues/{number}/clicks (bearer token): an issue's click figures
    mail_retry.py   the web process's own work: stored reader requests, then pending mail
    access_log.py   keeps link tokens out of the access log

Rule: routes translate HTTP into calls of the domain packages and their DigestErrors into
pages; no SQL, rendering or provider calls here, and nothing below raises HTTPException.
"""

from digest.web.app import create_app

__all__ = ["create_app"]

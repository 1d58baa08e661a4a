"""The knowledge base: Markdown articles by staff, rendered safely, searched as you type.

Search: PostgreSQL full-text search (Russian stemming, prefix match of the last word);
on SQLite a LIKE over a lower-cased copy of the text (SQLite's lower() knows only ASCII).
"""

from __future__ import annotations

import re

import markdown
import nh3
from markupsafe import Markup
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from portal import audit
from portal.db import is_postgresql

from .models import Article

_TAGS = {
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "ul",
    "ol",
    "li",
    "strong",
    "em",
    "b",
    "i",
    "code",
    "pre",
    "blockquote",
    "a",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
_WORD = re.compile(r"\w+", re.UNICODE)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,118}[a-z0-9]$")


def render(source: str) -> Markup:
    """Markdown to HTML that cannot carry scripts, styles or event handlers."""
    html = markdown.markdown(source or "", extensions=["extra", "sane_lists"])
    clean = nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href", "title"}, "th": {"align"}, "td": {"align"}},
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704 (nh3 has sanitised it)


def search_text(article: Article) -> str:
    return " ".join((article.title, article.keywords or "", article.body_md)).casefold()


def search(session: Session, query: str, limit: int = 5) -> list[Article]:
    """Published articles matching the words of ``query``, the best first."""
    words = [w.casefold() for w in _WORD.findall(query or "") if len(w) >= 2][:8]
    if not words:
        return []
    base = select(Article).where(Article.published.is_(True))
    if is_postgresql(session):
        tsquery = " & ".join(f"{w}:*" for w in words)
        vector = func.to_tsvector(text("'russian'"), Article.search_text)
        match = func.to_tsquery(text("'russian'"), tsquery)
        rows = session.scalars(
            base.where(vector.op("@@")(match))
            .order_by(func.ts_rank(vector, match).desc(), Article.id)
            .limit(limit)
        )
        return list(rows)
    conditions = [Article.search_text.like(f"%{_escape(w)}%", escape="\\") for w in words]
    # Every word when possible; a title hit first.
    rows = list(
        session.scalars(base.where(*conditions).order_by(Article.views.desc()).limit(limit))
    )
    if rows:
        return rows
    return list(
        session.scalars(base.where(or_(*conditions)).order_by(Article.views.desc()).limit(limit))
    )


def _escape(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def snippet(article: Article, length: int = 160) -> str:
    plain = re.sub(r"[#*_`>\[\]()|-]+", " ", article.body_md)
    plain = " ".join(plain.split())
    return plain if len(plain) <= length else plain[: length - 1].rsplit(" ", 1)[0] + "…"


def published(session: Session) -> list[Article]:
    return list(
        session.scalars(select(Article).where(Article.published.is_(True)).order_by(Article.title))
    )


def by_slug(session: Session, slug: str, *, include_drafts: bool = False) -> Article | None:
    query = select(Article).where(Article.slug == slug)
    if not include_drafts:
        query = query.where(Article.published.is_(True))
    return session.scalar(query)


def count_view(session: Session, article: Article) -> None:
    article.views = (article.views or 0) + 1


def all_articles(session: Session) -> list[Article]:
    return list(session.scalars(select(Article).order_by(Article.updated_at.desc())))


class ArticleError(ValueError):
    pass


def save(
    session: Session,
    staff_id: int,
    article_id: int | None,
    *,
    title: str,
    slug: str,
    body: str,
    keywords: str,
    published: bool,
) -> Article:
    slug = slug.strip().lower()
    if not _SLUG.match(slug):
        raise ArticleError("slug")
    clash = session.scalar(
        select(Article.id).where(Article.slug == slug, Article.id != (article_id or 0))
    )
    if clash:
        raise ArticleError("slug_taken")
    article = session.get(Article, article_id) if article_id else Article()
    if article is None:
        raise LookupError(article_id)
    article.title = title.strip()
    article.slug = slug
    article.body_md = body
    article.keywords = keywords.strip()
    article.published = published
    article.updated_by = staff_id
    article.search_text = search_text(article)
    session.add(article)
    session.flush()
    audit.record(
        session,
        "kb.article_saved",
        audit.Actor("staff", staff_id),
        ("article", article.id),
        slug=slug,
        published=published,
    )
    return article

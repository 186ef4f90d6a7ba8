import importlib.util
import json
import shutil
from pathlib import Path

import pytest
from fontTools import subset
from fontTools.ttLib import TTFont
from PIL import Image, ImageDraw, ImageFont

from conftest import font_named
from thaiocr.charset import THAI_DIGITS
from thaiocr.errors import ThaiOCRError
from thaiocr.synth import fonts as fonts_module
from thaiocr.synth.fonts import FontInfo, discover_fonts, font_covers, fonts_fingerprint, read_font

# --- fonts --------------------------------------------------------------------------------------


def test_discovered_fonts_are_thai_sorted_and_leave_out_noto_looped(fonts):
    names = [font.name for font in fonts]
    assert names == sorted(names) and len(set(names)) == len(names)
    assert all(font_covers(font, THAI_DIGITS) for font in fonts)
    assert not any(name.startswith("NotoLoopedThai") for name in names)
    assert discover_fonts() == fonts


def test_font_wheels_are_found_beside_the_system_fonts(fonts):
    folders = fonts_module.package_font_dirs()
    assert {folder.parent.name for folder in folders} >= {"fontpkg_sarabun", "fontpkg_kanit", "fontpkg_prompt"}
    families = {font.family for font in fonts}
    assert {"Sarabun", "Kanit", "Prompt", "ChakraPetch"} <= families
    assert any(font.path.is_relative_to(folders[0]) for font in fonts)


def test_web_font_families_fetched_at_set_up_render_thai_digits_and_english(fonts):
    """`make setup` joins the Thai and Latin subsets of 17 @fontsource families into the virtualenv."""
    if not fonts_module.ENVIRONMENT_FONT_DIR.is_dir() and shutil.which("npm") is None:
        pytest.skip("npm is missing, so make setup could not fetch the web fonts")
    web = [font for font in fonts if font.path.is_relative_to(fonts_module.ENVIRONMENT_FONT_DIR)]
    assert {"Mitr", "Trirong", "IbmPlexSansThai", "IbmPlexSansThaiLooped", "BaiJamjuree"} <= {f.family for f in web}
    assert all(font_covers(font, "ผู้ใหญ่ ๑๒๓ 123 Hello, world!") for font in web)


def test_joining_script_subsets_keeps_each_scripts_shapes(fonts, tmp_path):
    """scripts/merge_web_fonts.py on Thai and Latin subsets cut from Garuda, named as @fontsource names them."""
    files = tmp_path / "work" / "garuda" / "package" / "files"
    files.mkdir(parents=True)
    garuda = font_named(fonts, "Garuda")
    thai_text, latin_text = "ผู้ใหญ่ที่นี่ ๑๒", "Hello 9,123"
    _subset(garuda.path, files / "garuda-thai-400-normal.woff", thai_text)
    _subset(garuda.path, files / "garuda-latin-400-normal.woff", latin_text)
    merge_script = _load_script("merge_web_fonts")
    [(thai, out)] = merge_script.face_jobs(tmp_path / "work", tmp_path / "dest")
    assert out == tmp_path / "dest" / "garuda" / "Garuda-400.woff"
    out.parent.mkdir(parents=True)
    assert merge_script.merge_face(thai, out) is None
    joined = read_font(out)
    assert font_covers(joined, thai_text + latin_text)
    for text, script in ((thai_text, "thai"), (latin_text, "latin")):
        alone = read_font(files / f"garuda-{script}-400-normal.woff")
        assert ink_image(text, joined).tobytes() == ink_image(text, alone).tobytes()


def _subset(source: Path, out: Path, text: str) -> None:
    options = subset.Options()
    options.layout_features = ["*"]
    options.hinting = False  # as @fontsource ships them
    font = TTFont(source)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    font.flavor = "woff"
    font.save(out)


def _load_script(name: str):
    path = Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_woff_font_is_read_like_its_truetype_original(fonts, tmp_path):
    original = font_named(fonts, "Garuda")
    with TTFont(original.path) as font:
        font.flavor = "woff"
        font.save(tmp_path / "GarudaWoff.woff")
    woff = font_named(discover_fonts([tmp_path]), "GarudaWoff")
    assert woff.chars == original.chars
    assert ink_image("ที่นี่", woff).tobytes() == ink_image("ที่นี่", original).tobytes()


def test_no_fonts_found_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(fonts_module, "SYSTEM_FONT_DIR", tmp_path)
    monkeypatch.setattr(fonts_module, "ENVIRONMENT_FONT_DIR", tmp_path)
    monkeypatch.setattr(fonts_module, "package_font_dirs", lambda: ())
    with pytest.raises(ThaiOCRError, match="fonts-thai-tlwg fonts-noto-core"):
        discover_fonts()


def test_missing_extra_font_folder_is_an_error(tmp_path):
    with pytest.raises(ThaiOCRError, match="does not exist"):
        discover_fonts([tmp_path / "nowhere"])


def test_font_covers_counts_space_and_knows_noto_sans_thai_lacks_latin_digits():
    noto_like = FontInfo(Path("x.ttf"), "NotoSansThai-Regular", frozenset(THAI_DIGITS + "-"))
    assert font_covers(noto_like, "๐๘๑-๒๓๔ ๕๖๗๘")
    assert not font_covers(noto_like, "081")
    assert not font_covers(noto_like, "๑,๒๓๔")


def ink_image(text: str, font: FontInfo) -> Image.Image:
    """``text`` drawn plainly with raqm at 40 px, white on black."""
    face = ImageFont.truetype(str(font.path), 40, layout_engine=ImageFont.Layout.RAQM)
    image = Image.new("L", (200, 80), 0)
    ImageDraw.Draw(image).text((20, 10), text, font=face, fill=255)
    return image


def ink_columns(text: str, font: FontInfo) -> int:
    """Width of the inked columns of ``text``."""
    left, _, right, _ = ink_image(text, font).getbbox()
    return right - left


def test_fonts_said_to_cover_marks_place_them_over_their_base(fonts):
    # A mark drawn beside its base instead of over it doubles the cluster's width (TlwgMono: x2.3);
    # slanted faces legitimately shift marks right by up to ~1.45x.
    cluster = "\u0e01\u0e35\u0e48"  # ko kai + sara ii + mai ek
    coverers = [font for font in fonts if font_covers(font, cluster)]
    assert len(coverers) >= 40
    for font in coverers:
        assert ink_columns(cluster, font) <= 1.6 * ink_columns("\u0e01", font), font.name
    assert not font_covers(font_named(fonts, "TlwgMono"), cluster)
    assert font_covers(font_named(fonts, "TlwgMono"), "๐๑๒-345")


@pytest.mark.parametrize(
    ("name", "family"),
    [("Garuda-BoldOblique", "Garuda"), ("FreeSerifBoldItalic", "FreeSerif"), ("FreeSerif", "FreeSerif"),
     ("NotoSansThai-CondensedThin", "NotoSansThai"), ("Italic", "Italic")],
)
def test_family_drops_style_words_with_or_without_a_hyphen(name, family):
    assert FontInfo(Path(f"{name}.ttf"), name, frozenset()).family == family


def test_the_os2_prefilter_passes_thai_fonts_and_stops_latin_ones(fonts):
    latin = fonts_module.SYSTEM_FONT_DIR / "truetype/noto/NotoSans-Regular.ttf"
    if not latin.exists():
        pytest.skip("fonts-noto-core is not installed")
    assert not fonts_module._may_cover_thai(latin)
    assert all(fonts_module._may_cover_thai(font.path) for font in fonts)


# --- the cmap cache -----------------------------------------------------------------------------


@pytest.fixture
def font_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "cache" / "font-cmaps.json"
    monkeypatch.setattr(fonts_module, "FONT_CACHE", cache)
    return cache


def test_discovery_caches_the_cmaps_and_then_reads_no_font(fonts, font_cache, monkeypatch):
    assert discover_fonts() == fonts
    assert json.loads(font_cache.read_text(encoding="utf-8"))["version"] == fonts_module.FONT_CACHE_VERSION

    def unread(path):
        raise AssertionError(f"{path} was read although the cache knows it")

    monkeypatch.setattr(fonts_module, "read_font", unread)
    monkeypatch.setattr(fonts_module, "_may_cover_thai", unread)
    assert discover_fonts() == fonts


@pytest.mark.parametrize("damage", ["{not json", '{"version": 1, "fonts": []}', "[]", "entries"])
def test_a_corrupt_cache_is_ignored_and_rewritten(fonts, font_cache, damage):
    font_cache.parent.mkdir(parents=True)
    if damage == "entries":  # well-formed JSON whose entries are not
        stamp = lambda font: [font.path.stat().st_size, font.path.stat().st_mtime_ns]  # noqa: E731
        bad_runs = ([1, 0, 5], "x", [-3, 2], [0x110000, 0x110001])
        entries = {str(f.path): [*stamp(f), runs] for f, runs in zip(fonts[:4], bad_runs, strict=True)}
        damage = json.dumps({"version": fonts_module.FONT_CACHE_VERSION, "fonts": entries})
    font_cache.write_text(damage, encoding="utf-8")
    assert discover_fonts() == fonts
    assert discover_fonts() == fonts  # from the rewritten cache
    assert len(json.loads(font_cache.read_text(encoding="utf-8"))["fonts"]) >= len(fonts)


def test_a_changed_font_file_is_read_again(fonts, font_cache, tmp_path):
    folder = tmp_path / "extra"
    folder.mkdir()
    target = folder / "Replaced.ttf"
    shutil.copyfile(font_named(fonts, "Garuda").path, target)
    assert font_named(discover_fonts([folder]), "Replaced").chars == font_named(fonts, "Garuda").chars
    shutil.copyfile(font_named(fonts, "NotoSansThai-Regular").path, target)
    fonts_module.read_font.cache_clear()
    fonts_module._may_cover_thai.cache_clear()
    assert font_named(discover_fonts([folder]), "Replaced").chars == font_named(fonts, "NotoSansThai-Regular").chars


def test_an_unwritable_cache_only_costs_speed(fonts, monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setattr(fonts_module, "FONT_CACHE", blocker / "font-cmaps.json")  # a folder that cannot exist
    assert discover_fonts() == fonts


def test_the_fonts_fingerprint_follows_character_maps_not_order(fonts):
    garuda = font_named(fonts, "Garuda")
    grown = FontInfo(path=garuda.path, name=garuda.name, chars=garuda.chars | {"\u20bf"})
    assert fonts_fingerprint(fonts) == fonts_fingerprint(reversed(fonts))
    assert fonts_fingerprint(fonts) != fonts_fingerprint([grown if f is garuda else f for f in fonts])

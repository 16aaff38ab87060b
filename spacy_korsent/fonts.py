"""The font stack of the package's HTML pages: Korean fonts first, on every common system.

Noto Sans CJK KR (Linux, Android), Noto Sans KR (web installs), Source Han Sans KR (Adobe's
name for it), Apple SD Gothic Neo (macOS, iOS), Malgun Gothic (Windows), Nanum Gothic (older
Korean systems). Importing this costs nothing: no spaCy.
"""

FONTS = (
    '"Noto Sans CJK KR", "Noto Sans KR", "Source Han Sans KR", "Apple SD Gothic Neo", '
    '"Malgun Gothic", "NanumGothic", "Nanum Gothic", sans-serif'
)

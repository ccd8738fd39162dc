-- Text normalisation, defined once. The validation views (10_validation.sql) call these macros
-- and nothing else spells out whitespace, upper-casing or unprintable characters. Snowflake gets
-- no function objects: warehouse/dialect.py writes every call out as the macro's body, so both
-- warehouses evaluate the very same expression (and fakesnow, which cannot run SQL UDFs, too).
-- Regexp escapes are RE2's (\x{...} is one code point); dialect.py turns them into the
-- characters themselves for Snowflake, whose POSIX regexps match one Unicode character each.
--
-- Whitespace is the six ASCII characters (tab, LF, VT, FF, CR, space) and every Unicode space,
-- line or paragraph separator (categories Zs, Zl, Zp): U+00A0, U+1680, U+2000-U+200A, U+2028,
-- U+2029, U+202F, U+205F, U+3000. Each run becomes one space, then the spaces at either end go.
-- trim() is given the space explicitly: without it DuckDB 2.0 also strips Unicode spaces.
CREATE OR REPLACE MACRO core.squeeze_whitespace(t) AS
    trim(
        regexp_replace(
            t,
            '[\t\n\x0B\f\r \x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]+',
            ' ',
            'g'
        ),
        ' '
    );

-- Upper-casing maps the ASCII letters a-z to A-Z and leaves every other character as it is
-- (ß, the ligature ﬁ, é, final sigma, dotless i...): no engine's Unicode tables or locale enter
-- into it, so DuckDB and Snowflake agree by construction.
CREATE OR REPLACE MACRO core.upper_ascii(t) AS
    translate(t, 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ');

-- The cheap test: printable ASCII words joined by single spaces ('SW1A 1AA', nearly every
-- postcode) are already squeezed and hold no unprintable character. (Spelt without a `$`
-- anchor, which test_snowflake.py would take for a DuckDB parameter left in the translation.)
CREATE OR REPLACE MACRO core.is_tidy_ascii(t) AS
    t <> '' AND NOT ends_with(t, ' ') AND NOT regexp_matches(t, '[^!-~ ]|^ |  ');

-- A postcode's normalised value: its whitespace squeezed, then upper-cased. The fast path is
-- for values that pass the cheap test (it skips the regexp_replace, seconds over a 20M-row
-- snapshot); test_normalisation.py proves both paths give the same value for every string.
CREATE OR REPLACE MACRO core.normalise_postcode_fast(p) AS upper(p);
-- The general path: upper() of a value of ASCII only is core.upper_ascii() on both warehouses
-- and costs a fraction of translate(), which only values holding other characters take. Each
-- branch squeezes once (a macro's body is written out at every call, on Snowflake too).
CREATE OR REPLACE MACRO core.normalise_postcode_general(p) AS
    CASE
        WHEN NOT regexp_matches(p, '[^\t\n\x0B\f\r -~]') THEN upper(core.squeeze_whitespace(p))
        ELSE core.upper_ascii(core.squeeze_whitespace(p))
    END;
CREATE OR REPLACE MACRO core.normalise_postcode(p) AS
    CASE
        WHEN core.is_tidy_ascii(p) THEN core.normalise_postcode_fast(p)
        ELSE core.normalise_postcode_general(p)
    END;

-- Blank: nothing but whitespace, or nothing (decides blank_postcode and blank_url alike). A
-- value starting with printable ASCII other than the space is not blank: the cheap test first.
CREATE OR REPLACE MACRO core.is_blank(t) AS
    CASE WHEN ascii(t) BETWEEN 33 AND 126 THEN FALSE ELSE core.squeeze_whitespace(t) = '' END;

-- Unprintable, in a normalised value: a control character (Cc: U+0000-U+001F, U+007F-U+009F;
-- the ASCII whitespace among them is a space by then), a format character (Cf as of Unicode
-- 14.0: soft hyphen, zero-width space and joiners, bidi controls, U+FEFF, tags...) or U+FFFD.
-- test_normalisation.py checks this list against Python's unicodedata.
CREATE OR REPLACE MACRO core.has_unprintable(t) AS
    regexp_matches(
        t,
        '[\x00-\x1F\x7F-\x9F\x{AD}\x{600}-\x{605}\x{61C}\x{6DD}\x{70F}\x{890}-\x{891}\x{8E2}\x{180E}\x{200B}-\x{200F}\x{202A}-\x{202E}\x{2060}-\x{2064}\x{2066}-\x{206F}\x{FEFF}\x{FFF9}-\x{FFFB}\x{FFFD}\x{110BD}\x{110CD}\x{13430}-\x{13438}\x{1BCA0}-\x{1BCA3}\x{1D173}-\x{1D17A}\x{E0001}\x{E0020}-\x{E007F}]'
    );

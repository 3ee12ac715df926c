"""Reading series from CSV files (esnkit.tabular)."""

import numpy as np
import pytest

pd = pytest.importorskip("pandas")

from esnkit.tabular import SeriesTable, read_series  # noqa: E402


def write(tmp_path, text, name="s.csv"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def rows(n, start=0):
    return "".join(f"{i},{2 * i}\n" for i in range(start, start + n))


def test_a_frame_written_by_pandas_drops_its_index(tmp_path):
    df = pd.DataFrame({"a": np.arange(12.0), "b": np.linspace(0, 1, 12)})
    df.to_csv(tmp_path / "f.csv")
    t = read_series(tmp_path / "f.csv")
    assert t.columns == ["a", "b"] and t.values.dtype == np.float64 and t.values.shape == (12, 2)
    np.testing.assert_array_equal(t.values, df.to_numpy())
    assert t.dates is None and t.freq is None and t.future_dates(3) is None
    assert t.path == str(tmp_path / "f.csv")


def test_a_frame_with_a_date_index_gives_dates_and_frequency(tmp_path):
    index = pd.date_range("2020-01-01", periods=15, freq="D", name="date")
    df = pd.DataFrame({"x": np.arange(15.0)}, index=index)
    df.to_csv(tmp_path / "f.csv")
    t = read_series(str(tmp_path / "f.csv"))
    assert t.columns == ["x"] and t.values.shape == (15, 1)
    assert t.dates.dtype == np.dtype("datetime64[ns]") and (t.dates == index.to_numpy()).all()
    assert t.freq == "D"
    np.testing.assert_array_equal(t.future_dates(2), np.array(["2020-01-16", "2020-01-17"], dtype="datetime64[ns]"))


@pytest.mark.parametrize("day", ["", "-01"])
def test_a_monthly_date_column(tmp_path, day):
    text = "month,co2\n" + "".join(f"{1958 + (i + 2) // 12}-{(i + 2) % 12 + 1:02d}{day},{315 + i / 10}\n"
                                    for i in range(24))
    t = read_series(write(tmp_path, text))
    assert t.columns == ["co2"] and t.values.shape == (24, 1) and t.values[0, 0] == 315.0
    assert t.dates[0] == np.datetime64("1958-03-01") and t.freq == "MS"
    assert list(t.future_dates(2)) == [np.datetime64("1960-03-01"), np.datetime64("1960-04-01")]


def test_weekly_daily_and_irregular_frequencies(tmp_path):
    weekly = pd.date_range("2021-01-03", periods=12, freq="W-SUN")
    t = read_series(write(tmp_path, "d,v\n" + "".join(f"{d.date()},{i}\n" for i, d in enumerate(weekly))))
    assert t.freq == "W-SUN" and t.future_dates(1)[0] == weekly[-1] + pd.Timedelta(days=7)
    hourly = pd.date_range("2021-01-01", periods=12, freq="h")
    t = read_series(write(tmp_path, "when,v\n" + "".join(f"{d},{i}\n" for i, d in enumerate(hourly))))
    assert t.freq == "h" and t.future_dates(1)[0] == np.datetime64("2021-01-01T12:00")
    days = ["2021-01-01", "2021-01-02", "2021-01-05", "2021-01-06", "2021-01-09", "2021-01-10", "2021-01-20",
            "2021-01-21", "2021-01-25", "2021-02-01"]
    t = read_series(write(tmp_path, "d,v\n" + "".join(f"{d},{i}\n" for i, d in enumerate(days))))
    assert t.freq is None and t.future_dates(3) is None and len(t.dates) == 10


def test_future_dates_steps_by_a_constant_step_without_a_frequency():
    dates = np.datetime64("2021-01-01") + np.arange(10) * np.timedelta64(90, "m")
    t = SeriesTable(np.zeros((10, 1)), ["v"], dates.astype("datetime64[ns]"), None, "x.csv")
    assert list(t.future_dates(2)) == [dates[-1] + np.timedelta64(90, "m"), dates[-1] + np.timedelta64(180, "m")]
    assert t.future_dates(0).size == 0
    with pytest.raises(ValueError, match="n must be an integer >= 0, got -1"):
        t.future_dates(-1)


def test_choosing_columns_by_name_or_list(tmp_path):
    path = write(tmp_path, "t,a,b,c,label\n" + "".join(f"2020-01-{i + 1:02d},{i},{2 * i},{3 * i},x\n"
                                                        for i in range(12)))
    t = read_series(path)
    assert t.columns == ["a", "b", "c"]  # the text column 'label' and the dates are not targets
    assert read_series(path, column="b").values[:, 0].tolist() == [2.0 * i for i in range(12)]
    t = read_series(path, column=["c", "a"])
    assert t.columns == ["c", "a"] and t.values[3].tolist() == [9.0, 3.0]
    with pytest.raises(ValueError, match=r"s\.csv: there is no column 'z'; the numeric columns "
                                         "are a, b, c"):
        read_series(path, column="z")
    with pytest.raises(ValueError, match="'t' is the date column, not a series to read"):
        read_series(path, column=["a", "t"])
    with pytest.raises(ValueError, match=r"line 2, column 'label': 'x' is not a number \(12 such cells\)"):
        read_series(path, column="label")


def test_a_named_date_column(tmp_path):
    path = write(tmp_path, "id,when,v\n" + "".join(f"k{i},2020-03-{i + 1:02d},{i}\n" for i in range(10)))
    t = read_series(path, date_column="when")
    assert t.freq == "D" and t.columns == ["v"]
    with pytest.raises(ValueError, match="s.csv: line 2, column 'id': 'k0' is not a date"):
        read_series(path, date_column="id")
    with pytest.raises(ValueError, match="no column 'day' to read the dates from; the columns are id, when, v"):
        read_series(path, date_column="day")


def test_missing_values_are_reported_with_their_lines(tmp_path):
    text = "a,b\n" + rows(20).replace("3,6\n", "3,\n").replace("7,14\n", "NA,14\n").replace("9,18", "9,null")
    with pytest.raises(ValueError) as info:
        read_series(write(tmp_path, text))
    assert str(info.value).endswith("s.csv: 3 missing value(s) in column(s) 'a', 'b' (line(s) 5, 9, 11): "
                                    "impute or drop them first; esnkit does not fill gaps")
    with pytest.raises(ValueError, match=r"1 missing value\(s\) in column\(s\) '0' \(line\(s\) 21\)"):
        read_series(write(tmp_path, rows(20) + "nan,1\n"))  # headerless: line 21 is the 21st row
    with pytest.raises(ValueError, match=r"15 missing .*\(line\(s\) 3, 5, 7, 9, 11, \.\.\.\)"):
        read_series(write(tmp_path, "a,v\n" + "".join(f"{i},{'' if i % 2 else i}\n" for i in range(30))))


def test_text_in_a_numeric_column_names_line_and_column(tmp_path):
    with pytest.raises(ValueError, match=r"s\.csv: line 7, column 'b': 'abc' is not a number$"):
        read_series(write(tmp_path, "a,b\n" + rows(20).replace("5,10", "5,abc")))


def test_values_too_large_or_infinite(tmp_path):
    with pytest.raises(ValueError, match=r"line 21, column '1' is 1e\+300, beyond ±1e150, .* rescale the series"):
        read_series(write(tmp_path, rows(20) + "1,1e300\n" + rows(1)))
    with pytest.raises(ValueError, match="line 3, column 'x' is -inf, not a finite number; clean the series first"):
        read_series(write(tmp_path, "x\n1\n-inf\n" + "1\n" * 10))


def test_a_headerless_file_of_numbers(tmp_path):
    t = read_series(write(tmp_path, "\n" + rows(12) + "\n\n"))  # blank lines are skipped
    assert t.columns == ["0", "1"] and t.values.shape == (12, 2) and t.values[11].tolist() == [11.0, 22.0]
    t = read_series(write(tmp_path, "".join(f"2020-01-{i + 1:02d},{i}\n" for i in range(12))))
    assert t.columns == ["1"] and t.freq == "D"


def test_semicolon_separated(tmp_path):
    t = read_series(write(tmp_path, "a;b\n" + rows(12).replace(",", ";")))
    assert t.columns == ["a", "b"] and t.values.shape == (12, 2)


@pytest.mark.parametrize("change, message", [
    (lambda d: d[:5] + d[6:7] + d[5:6] + d[7:], r"the dates in column 'date' must increase: line 8 \(2020-01-06\) "
                                                r"comes before that of line 7 \(2020-01-07\); sort the file"),
    (lambda d: d[:5] + d[4:5] + d[6:], r"the dates in column 'date' must increase: line 7 \(2020-01-05\) repeats "
                                       r"the date of line 6 \(2020-01-05\); sort the file or drop the duplicates"),
])
def test_dates_must_increase(tmp_path, change, message):
    days = [f"2020-01-{i + 1:02d}" for i in range(12)]
    path = write(tmp_path, "date,v\n" + "".join(f"{d},{i}\n" for i, d in enumerate(change(days))))
    with pytest.raises(ValueError, match=r"s\.csv: " + message):
        read_series(path)


def test_files_that_are_not_series(tmp_path):
    with pytest.raises(ValueError, match=r"empty\.csv: the file is empty"):
        read_series(write(tmp_path, "\n \n", "empty.csv"))
    with pytest.raises(ValueError, match=r"short\.csv: 3 rows of data; a series needs at least 10"):
        read_series(write(tmp_path, "a\n1\n2\n3\n", "short.csv"))
    with pytest.raises(ValueError, match=r"head\.csv: 0 rows of data"):
        read_series(write(tmp_path, "a,b\n", "head.csv"))
    with pytest.raises(ValueError, match=r"words\.csv: no column of numbers \(columns: a, b\)"):
        read_series(write(tmp_path, "a,b\n" + "x,y\n" * 12, "words.csv"))
    with pytest.raises(ValueError, match=r"ragged\.csv: every row must have as many cells as the header "
                                         r"\(Expected 2 fields in line 14, saw 3\)"):
        read_series(write(tmp_path, "a,b\n" + rows(12) + "1,2,3\n", "ragged.csv"))
    with pytest.raises(ValueError, match=r"dup\.csv: the header names column\(s\) \['a'\] more than once"):
        read_series(write(tmp_path, "a,a\n" + rows(12), "dup.csv"))


def test_unreadable_files_are_os_errors(tmp_path):
    with pytest.raises(OSError, match=f"^{tmp_path}: a folder, not a file"):
        read_series(tmp_path)
    with pytest.raises(OSError, match=r"nope\.csv: no such file"):
        read_series(tmp_path / "nope.csv")
    (tmp_path / "bin.csv").write_bytes(bytes(range(128, 256)) * 3)
    with pytest.raises(OSError, match=r"bin\.csv: not a text file \(not UTF-8\)"):
        read_series(tmp_path / "bin.csv")
    (tmp_path / "nul.csv").write_bytes(b"a,b\n" + b"1,\x00\n" * 12)
    with pytest.raises(OSError, match=r"nul\.csv: not a text file \(it holds NUL bytes\)"):
        read_series(tmp_path / "nul.csv")


def test_without_pandas_the_extra_is_named(tmp_path, uninstalled):
    uninstalled("pandas")
    from esnkit.errors import MissingExtraError

    with pytest.raises(MissingExtraError, match=r'reading CSV files needs pandas.*pip install "esnkit\[search\]"'):
        read_series(write(tmp_path, "a\n" + "1\n" * 12))


def _monthly(n=60):
    return pd.date_range("1958-03-01", periods=n, freq="MS"), np.round(np.linspace(300, 320, n), 2)


def test_day_first_dates_are_read_when_only_they_make_a_regular_series(tmp_path):
    dates, v = _monthly()
    for fmt in ("%d/%m/%Y", "%d.%m.%Y", "%m/%d/%Y"):
        path = tmp_path / "m.csv"
        pd.DataFrame({"when": dates.strftime(fmt), "v": v}).to_csv(path, index=False)
        t = read_series(path)
        assert t.freq == "MS" and str(t.dates[1])[:10] == "1958-04-01", fmt
    days = pd.date_range("2022-01-01", periods=40, freq="D")
    pd.DataFrame({"d": days.strftime("%d/%m/%Y"), "v": np.arange(40.0)}).to_csv(tmp_path / "d.csv", index=False)
    assert read_series(tmp_path / "d.csv").freq == "D"


def test_semicolons_with_decimal_commas_and_blank_trailing_rows(tmp_path):
    dates, v = _monthly(20)
    text = "date;co2\n" + "".join(f"{d:%Y-%m-%d};{str(x).replace('.', ',')}\n" for d, x in zip(dates, v)) + ";\n;\n"
    (tmp_path / "eu.csv").write_text(text)
    t = read_series(tmp_path / "eu.csv")
    np.testing.assert_array_equal(t.values[:, 0], v)


def test_a_year_column_dates_the_rows(tmp_path):
    pd.DataFrame({"YEAR": np.arange(1700.0, 1730.0), "spots": np.arange(30.0)}).to_csv(tmp_path / "y.csv",
                                                                                       index=False)
    t = read_series(tmp_path / "y.csv")
    assert t.columns == ["spots"] and t.freq.startswith("YS") and str(t.future_dates(1)[0])[:4] == "1730"


def test_gaps_in_a_calendar_keep_its_frequency_and_are_counted(tmp_path):
    b = pd.bdate_range("2022-01-03", periods=60).delete([10, 30])
    pd.DataFrame({"Date": b, "Close": np.arange(58.0)}).to_csv(tmp_path / "b.csv", index=False)
    t = read_series(tmp_path / "b.csv")
    assert (t.freq, t.gaps) == ("B", 2)
    d = pd.date_range("2022-01-01", periods=60, freq="D").delete(list(range(20, 25)))
    pd.DataFrame({"day": d, "sales": np.arange(55.0)}).to_csv(tmp_path / "g.csv", index=False)
    t = read_series(tmp_path / "g.csv")
    assert (t.freq, t.gaps) == ("D", 5) and str(t.future_dates(1)[0])[:10] == "2022-03-02"

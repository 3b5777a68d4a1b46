// A real browser looks at `karman post`'s report: headless Chromium opens the index.html of the
// PINN and the FNO run that test_cli_post.cpp posted (ctest fixture karman_post_runs) from
// file://, without network, and every <img> has loaded (complete, naturalWidth of the figure);
// a screenshot of the page is not blank. SKIPPED when no chromium is installed (.ci/run installs
// Debian's chromium; users need none).
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "support/cli.hpp"
#include "support/post_figures.hpp"

using namespace karman::test;

namespace {

std::string find_chromium() {
  for (const char* name : {"chromium", "chromium-browser", "google-chrome"}) {
    const std::string probe = std::string("command -v ") + name + " >/dev/null 2>&1";
    if (std::system(probe.c_str()) == 0) return name;
  }
  return "";
}

// Written into the DOM once the page has loaded, for --dump-dom to print:
// "karman-check images N loaded M widths w1,w2,..." (split in the source, so that the script's own
// text does not match).
const char* kCheckScript = R"(<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0);
  const out = document.createElement("pre");
  out.textContent = "karman" + "-check images " + images.length + " loaded " + loaded.length +
                    " widths " + loaded.map(i => i.naturalWidth).join(",");
  document.body.appendChild(out);
});
</script>)";

// Headless Chromium on `page` with `options`; its own profile folder, so that concurrent tests
// do not share one. Returns the exit status; stdout into `out`.
int chromium(const std::string& browser, const fs::path& work, const std::string& options,
             const fs::path& page, const fs::path& out) {
  const std::string command =
      clean_environment_prefix() + " " + browser +
      " --headless --no-sandbox --disable-gpu --no-first-run --disable-extensions"
      " --user-data-dir=" +
      shell_quote((work / "profile").string()) + " " + options + " " +
      shell_quote("file://" + page.string()) + " >" + shell_quote(out.string()) + " 2>" +
      shell_quote((work / "chromium.err").string());
  const int raw = std::system(command.c_str());
  return raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
}

}  // namespace

TEST(CliPostBrowser, ChromiumLoadsEveryFigure) {
  const std::string browser = find_chromium();
  if (browser.empty())
    GTEST_SKIP() << "no chromium on the PATH: the browser check of karman post is skipped "
                    "(apt install chromium)";
  const fs::path runs = fs::absolute(fs::path("cli-work") / "CliPost.PinnAndFnoReports");
  const fs::path work = test_folder();
  for (const char* run : {"pinn", "fno"}) {
    SCOPED_TRACE(run);
    const fs::path post = runs / run / "post";
    ASSERT_TRUE(fs::is_regular_file(post / "index.html"))
        << post / "index.html"
        << " is missing: test_cli_post makes it (ctest runs it first)";
    const std::string html = read_text(post / "index.html");
    const auto figures = figures_in_page(html);
    ASSERT_GE(figures.size(), 3u) << post / "index.html";

    // The page with the check script, beside the original (same folder, same relative paths).
    const fs::path checked = post / "browser_check.html";
    std::string with_check = html;
    with_check.insert(with_check.rfind("</body>"), kCheckScript);
    write_text(checked, with_check);
    const fs::path dom = work / (std::string(run) + ".dom");
    // Virtual time lets the page finish loading (the load event fires) before the dump.
    ASSERT_EQ(chromium(browser, work, "--virtual-time-budget=10000 --dump-dom", checked, dom), 0)
        << read_text(work / "chromium.err");
    fs::remove(checked);
    const std::string text = read_text(dom);
    const auto at = text.find("karman-check ");
    ASSERT_NE(at, std::string::npos) << "the check script did not run\n" << text.substr(0, 2000);
    std::istringstream in(text.substr(at + 13));
    std::string word, widths;
    long images = -1, loaded = -1;
    in >> word >> images >> word >> loaded >> word >> widths;
    EXPECT_EQ(images, static_cast<long>(figures.size()));
    EXPECT_EQ(loaded, images) << "some <img> did not load";
    std::istringstream each(widths);
    for (std::string w; std::getline(each, w, ',');) EXPECT_EQ(std::stol(w), kFigureWidth);

    // What a reader sees: the page drawn at 1280 x 2400 is more than one colour.
    const fs::path shot = work / (std::string(run) + ".png");
    ASSERT_EQ(chromium(browser, work,
                       "--hide-scrollbars --window-size=1280,2400 --screenshot=" +
                           shell_quote(shot.string()),
                       post / "index.html", work / "screenshot.out"),
              0)
        << read_text(work / "chromium.err");
    const PngSummary png = read_png(shot);
    ASSERT_TRUE(png.valid) << shot << ": " << png.error;
    EXPECT_EQ(png.width, 1280);
    EXPECT_GT(png.colours, 8u) << shot << " is blank";
  }
}

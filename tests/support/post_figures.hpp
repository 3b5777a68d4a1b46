#pragma once
// Checks of what `karman post` writes (tests/cases/test_cli_post.cpp, test_cli_runs.cpp): every
// figure index.html shows is a PNG in post/ of the size tools/post/karman_post.py promises
// (FIGURE_WIDTH wide, PANEL_HEIGHT per row of panels) and not blank. PNGs are decoded by libpng
// (Debian libpng-dev).

#include <gtest/gtest.h>
#include <png.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "support/cli.hpp"

namespace karman::test {

constexpr int kFigureWidth = 1200, kPanelHeight = 360;  // tools/post/karman_post.py

struct PngSummary {
  bool valid = false;
  int width = 0, height = 0;
  std::size_t colours = 0;  // distinct RGBA values, counted up to 16
  std::string error;
};

inline PngSummary read_png(const fs::path& path) {
  PngSummary s;
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.string().c_str())) {
    s.error = image.message;
    return s;
  }
  image.format = PNG_FORMAT_RGBA;
  std::vector<png_byte> pixels(PNG_IMAGE_SIZE(image));
  if (!png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr)) {
    s.error = image.message;
    png_image_free(&image);
    return s;
  }
  s.valid = true;
  s.width = static_cast<int>(image.width);
  s.height = static_cast<int>(image.height);
  std::set<std::uint32_t> seen;
  for (std::size_t i = 0; i + 3 < pixels.size() && seen.size() < 16; i += 4)
    seen.insert(static_cast<std::uint32_t>(pixels[i]) << 24 | pixels[i + 1] << 16 |
                pixels[i + 2] << 8 | pixels[i + 3]);
  s.colours = seen.size();
  return s;
}

// The figure files index.html embeds (each <img ... data-file="NAME.png">), in page order.
inline std::vector<std::string> figures_in_page(const std::string& html) {
  std::vector<std::string> names;
  const std::string key = "data-file=\"";
  for (auto at = html.find(key); at != std::string::npos; at = html.find(key, at + 1)) {
    const auto start = at + key.size();
    names.push_back(html.substr(start, html.find('"', start) - start));
  }
  return names;
}

// Every figure of `post` (a run's post/ or a comparison folder): index.html embeds it as a PNG
// data URI, the file is there, a valid PNG of the promised size with more than one colour; and
// every PNG of the folder is in the page. Returns the figure names.
inline std::set<std::string> expect_post_folder(const fs::path& post) {
  std::set<std::string> names;
  const std::string html = read_text(post / "index.html");
  EXPECT_NE(html.find("<table>"), std::string::npos) << post / "index.html";
  // ':' is not a base64 character: no figure's data can look like an address.
  for (const char* scheme : {"http:", "https:"})
    EXPECT_EQ(html.find(scheme), std::string::npos) << "the page needs the network: " << post;
  for (const auto& name : figures_in_page(html)) {
    names.insert(name);
    const PngSummary png = read_png(post / name);
    EXPECT_TRUE(png.valid) << post / name << ": " << png.error;
    EXPECT_EQ(png.width, kFigureWidth) << post / name;
    EXPECT_TRUE(png.height > 0 && png.height % kPanelHeight == 0) << post / name << png.height;
    EXPECT_GT(png.colours, 1u) << post / name << " is blank";
  }
  for (const auto& e : fs::directory_iterator(post)) {
    if (e.path().extension() != ".png") continue;
    EXPECT_TRUE(names.count(e.path().filename().string()))
        << e.path() << " is not in " << post / "index.html";
  }
  return names;
}

}  // namespace karman::test

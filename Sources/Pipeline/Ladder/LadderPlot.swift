import Foundation
import TensorCore

/// The ladder's picture as SVG text: mean KL divergence (log scale) against bits per weight,
/// one labelled point per file, each series' Pareto front drawn through the points no other
/// point of its series beats on both axes (those filled, the dominated ones hollow), a legend.
/// Labels are placed by `LabelPlacement` from text widths measured with DejaVu Sans' advance
/// widths (the widest of the usual sans-serif fonts, so narrower fonts fit the same boxes).
package struct LadderPlot {
    package struct Point: Sendable {
        package var label: String
        package var bitsPerWeight: Double
        package var meanKLD: Double
        package init(label: String, bitsPerWeight: Double, meanKLD: Double) {
            self.label = label
            self.bitsPerWeight = bitsPerWeight
            self.meanKLD = meanKLD
        }
    }

    package struct Series: Sendable {
        package var name: String
        package var points: [Point]
        package init(name: String, points: [Point]) {
            self.name = name
            self.points = points
        }
    }

    package var title: String
    package var subtitle: String
    package var series: [Series]
    package var width = 820.0
    package var height = 540.0

    package init(title: String, subtitle: String = "", series: [Series]) {
        self.title = title
        self.subtitle = subtitle
        self.series = series
    }

    /// Colour-blind-safe pair (blue, orange), then more for further series; each series also
    /// has its own marker shape.
    static let colours = ["#1f6fb4", "#e07b00", "#2a9d55", "#a33ea1"]
    /// Darker shades of the same, for label text (readable, and tells same-named labels apart).
    static let textColours = ["#174f80", "#9a5200", "#1d6e3b", "#732b71"]
    package static let fontSize = 12.0
    static let radius = 5.0
    /// The smallest KL divergence drawn (an exact copy has 0, which a log axis cannot show).
    static let floorKLD = 1e-6

    /// Where everything goes, computed once and shared by `svg()` and the tests.
    package struct Layout {
        package struct Marker { package var series: Int; public var index: Int; public var x: Double; public var y: Double; public var onFront: Bool }
        package struct Tick { package var value: Double; public var position: Double; public var label: String?; public var major: Bool }
        package var area: PlotRect
        package var markers: [Marker]
        package var labels: [LabelPlacement.Placed]
        package var fronts: [[(Double, Double)]]
        package var xTicks: [Tick]
        package var yTicks: [Tick]
        package var legend: PlotRect
    }

    /// Text width in pixels at `size`, from DejaVu Sans' advance widths (em).
    package static func textWidth(_ s: String, size: Double = fontSize) -> Double {
        let em: [Character: Double] = [
            "f": 0.352, "i": 0.278, "j": 0.278, "l": 0.278, "r": 0.411, "t": 0.392, "s": 0.521, "c": 0.55, "z": 0.525,
            "m": 0.974, "w": 0.818, "k": 0.579, "v": 0.592, "x": 0.592, "y": 0.592, "_": 0.5, "+": 0.838, ".": 0.318,
            " ": 0.318, "-": 0.361, ",": 0.318, "(": 0.39, ")": 0.39, "/": 0.337, ":": 0.337, "%": 0.95, "·": 0.318,
        ]
        return s.reduce(0) { w, c in
            w + (em[c] ?? (c.isUppercase ? 0.72 : c.isNumber ? 0.636 : c.isLetter ? 0.62 : 0.8)) * size
        }
    }

    /// Indices of the points of `points` on the Pareto front (fewer bits and lower KLD are
    /// better), in order of bits per weight.
    package static func paretoFront(_ points: [Point]) -> [Int] {
        let order = points.indices.sorted { (points[$0].bitsPerWeight, points[$0].meanKLD) < (points[$1].bitsPerWeight, points[$1].meanKLD) }
        var front: [Int] = []
        var best = Double.infinity
        for i in order where points[i].meanKLD < best {
            front.append(i)
            best = points[i].meanKLD
        }
        return front
    }

    /// Tick step for a linear axis spanning `span` with about 5–10 ticks.
    static func niceStep(_ span: Double) -> Double {
        for s in [0.1, 0.2, 0.25, 0.5, 1, 2, 5, 10, 20] where span / s <= 10 { return s }
        return 50
    }

    /// "0.001" for decades down to 1e-4, "1e-5" below, as numbers people read.
    static func decadeLabel(_ k: Int) -> String {
        if k >= 0 { return String(Int(pow(10, Double(k)))) }
        if k >= -4 { return "0." + String(repeating: "0", count: -k - 1) + "1" }
        return "1e\(k)"
    }

    package func layout() -> Layout {
        let area = PlotRect(x: 78, y: 66, width: width - 78 - 28, height: height - 66 - 58)
        let all = series.flatMap(\.points)
        let bits = all.map(\.bitsPerWeight), klds = all.map { max($0.meanKLD, Self.floorKLD) }
        let (bMin, bMax) = (bits.min() ?? 4, bits.max() ?? 8)
        let pad = max(0.3, (bMax - bMin) * 0.08)
        let step = Self.niceStep(bMax - bMin + 2 * pad)
        let x0 = ((bMin - pad) / step).rounded(.down) * step, x1 = ((bMax + pad) / step).rounded(.up) * step
        // The KLD axis spans the data with a margin, not whole decades (which can leave most
        // of a decade empty); at least one decade so a tick falls inside.
        var lo = log10(klds.min() ?? 1e-3) - 0.15, hi = log10(klds.max() ?? 1) + 0.15
        if hi - lo < 1 { let mid = (lo + hi) / 2; lo = mid - 0.5; hi = mid + 0.5 }
        let d0 = Int(lo.rounded(.down)), d1 = Int(hi.rounded(.up))
        func px(_ b: Double) -> Double { area.x + (b - x0) / (x1 - x0) * area.width }
        func py(_ k: Double) -> Double { area.maxY - (log10(max(k, Self.floorKLD)) - lo) / (hi - lo) * area.height }
        let inside = { (v: Double) in log10(v) >= lo - 1e-9 && log10(v) <= hi + 1e-9 }

        var xTicks: [Layout.Tick] = []
        var v = x0
        while v <= x1 + step / 2 {
            let decimals = step < 1 ? (step == 0.25 ? 2 : 1) : 0
            xTicks.append(.init(value: v, position: px(v), label: String(format: "%.\(decimals)f", v), major: true))
            v += step
        }
        var yTicks: [Layout.Tick] = []
        let fewDecades = hi - lo <= 3.2
        for k in d0...d1 {
            let decade = pow(10, Double(k))
            if inside(decade) { yTicks.append(.init(value: decade, position: py(decade), label: Self.decadeLabel(k), major: true)) }
            for m in 2...9 where inside(Double(m) * decade) {
                let value = Double(m) * decade
                // Over two decades or so the 2× and 5× lines are labelled too.
                let label = fewDecades && (m == 2 || m == 5) ? String(format: k >= -4 ? "%g" : "%.0e", value) : nil
                yTicks.append(.init(value: value, position: py(value), label: label, major: false))
            }
        }

        var markers: [Layout.Marker] = []
        var fronts: [[(Double, Double)]] = []
        for (s, series) in series.enumerated() {
            let front = Set(Self.paretoFront(series.points))
            for (i, p) in series.points.enumerated() {
                markers.append(.init(series: s, index: i, x: px(p.bitsPerWeight), y: py(p.meanKLD), onFront: front.contains(i)))
            }
            fronts.append(Self.paretoFront(series.points).map { (px(series.points[$0].bitsPerWeight), py(series.points[$0].meanKLD)) })
        }

        // The legend goes in the corner of the plot area with fewest points near it.
        let rowsInLegend = series.count + 2
        let legendWidth = 24 + (series.map(\.name) + ["Pareto front", "dominated"]).map { Self.textWidth($0) }.max()! + 28
        let legendHeight = Double(rowsInLegend) * 18 + 12
        let corners = [
            PlotRect(x: area.maxX - legendWidth - 10, y: area.y + 10, width: legendWidth, height: legendHeight),
            PlotRect(x: area.x + 10, y: area.maxY - legendHeight - 10, width: legendWidth, height: legendHeight),
            PlotRect(x: area.x + 10, y: area.y + 10, width: legendWidth, height: legendHeight),
            PlotRect(x: area.maxX - legendWidth - 10, y: area.maxY - legendHeight - 10, width: legendWidth, height: legendHeight),
        ]
        let legend = corners.min { a, b in
            func near(_ r: PlotRect) -> Int { markers.filter { r.insetBy(-40).contains(PlotRect(x: $0.x, y: $0.y, width: 0, height: 0)) }.count }
            return near(a) < near(b)
        } ?? corners[0]

        var placement = LabelPlacement(area: area.insetBy(2))
        placement.obstacles = [legend]
        placement.lines = fronts.flatMap { f in zip(f, f.dropFirst()).map { ($0.0, $0.1, $1.0, $1.1) } }
        let height = Self.fontSize * 1.25
        let items = markers.map { m in
            LabelPlacement.Item(x: m.x, y: m.y, radius: Self.radius, width: Self.textWidth(series[m.series].points[m.index].label) + 4, height: height)
        }
        return Layout(area: area, markers: markers, labels: placement.place(items), fronts: fronts, xTicks: xTicks, yTicks: yTicks, legend: legend)
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// A series' marker: circles, squares, diamonds, triangles.
    static func marker(_ s: Int, x: Double, y: Double, filled: Bool, extra: String = "") -> String {
        let colour = colours[s % colours.count]
        let paint = "fill=\"\(filled ? colour : "#ffffff")\" stroke=\"\(colour)\" stroke-width=\"1.8\"\(extra)"
        let r = radius
        switch s % 4 {
        case 0: return "<circle cx=\"\(f1(x))\" cy=\"\(f1(y))\" r=\"\(f1(r))\" \(paint)/>"
        case 1: return "<rect x=\"\(f1(x - r * 0.9))\" y=\"\(f1(y - r * 0.9))\" width=\"\(f1(1.8 * r))\" height=\"\(f1(1.8 * r))\" \(paint)/>"
        case 2: return "<path d=\"M\(f1(x)) \(f1(y - r * 1.2))L\(f1(x + r * 1.2)) \(f1(y))L\(f1(x)) \(f1(y + r * 1.2))L\(f1(x - r * 1.2)) \(f1(y))Z\" \(paint)/>"
        default: return "<path d=\"M\(f1(x)) \(f1(y - r * 1.2))L\(f1(x + r * 1.1)) \(f1(y + r * 0.8))L\(f1(x - r * 1.1)) \(f1(y + r * 0.8))Z\" \(paint)/>"
        }
    }

    package func svg() -> String {
        let l = layout()
        let a = l.area
        var o: [String] = []
        o.append("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        o.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"\(Int(Self.fontSize))\">")
        o.append("<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>")
        o.append("<text x=\"\(f1(a.x))\" y=\"26\" font-size=\"17\" font-weight=\"bold\" fill=\"#1a1a1a\">\(Self.escape(title))</text>")
        if !subtitle.isEmpty { o.append("<text x=\"\(f1(a.x))\" y=\"46\" fill=\"#555555\">\(Self.escape(subtitle))</text>") }

        // Grid, then the frame and ticks over it.
        o.append("<g class=\"grid\" stroke-width=\"1\">")
        for t in l.yTicks { o.append("<line x1=\"\(f1(a.x))\" y1=\"\(f1(t.position))\" x2=\"\(f1(a.maxX))\" y2=\"\(f1(t.position))\" stroke=\"\(t.major ? "#d0d0d0" : "#eeeeee")\"/>") }
        for t in l.xTicks { o.append("<line x1=\"\(f1(t.position))\" y1=\"\(f1(a.y))\" x2=\"\(f1(t.position))\" y2=\"\(f1(a.maxY))\" stroke=\"#e4e4e4\"/>") }
        o.append("</g>")
        o.append("<rect x=\"\(f1(a.x))\" y=\"\(f1(a.y))\" width=\"\(f1(a.width))\" height=\"\(f1(a.height))\" fill=\"none\" stroke=\"#444444\" stroke-width=\"1\"/>")
        o.append("<g class=\"ticks\" fill=\"#333333\">")
        for t in l.xTicks {
            o.append("<line x1=\"\(f1(t.position))\" y1=\"\(f1(a.maxY))\" x2=\"\(f1(t.position))\" y2=\"\(f1(a.maxY + 5))\" stroke=\"#444444\"/>")
            if let s = t.label { o.append("<text x=\"\(f1(t.position))\" y=\"\(f1(a.maxY + 19))\" text-anchor=\"middle\">\(s)</text>") }
        }
        for t in l.yTicks {
            o.append("<line x1=\"\(f1(a.x - (t.major ? 5 : 3)))\" y1=\"\(f1(t.position))\" x2=\"\(f1(a.x))\" y2=\"\(f1(t.position))\" stroke=\"#444444\"/>")
            if let s = t.label {
                o.append("<text x=\"\(f1(a.x - 8))\" y=\"\(f1(t.position + 4))\" text-anchor=\"end\"\(t.major ? "" : " fill=\"#777777\" font-size=\"10\"")>\(s)</text>")
            }
        }
        o.append("</g>")
        o.append("<text x=\"\(f1(a.midX))\" y=\"\(f1(height - 14))\" text-anchor=\"middle\" font-size=\"13\" fill=\"#222222\">bits per weight (whole file)</text>")
        o.append("<text transform=\"translate(20 \(f1(a.midY))) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\" fill=\"#222222\">mean KL divergence (log scale, lower is better)</text>")

        for (s, front) in l.fronts.enumerated() where front.count > 1 {
            let points = front.map { "\(f1($0.0)),\(f1($0.1))" }.joined(separator: " ")
            o.append("<polyline class=\"front\" points=\"\(points)\" fill=\"none\" stroke=\"\(Self.colours[s % Self.colours.count])\" stroke-width=\"1.6\" stroke-dasharray=\"6 4\" stroke-opacity=\"0.75\"/>")
        }

        // Leader lines under the markers and labels.
        for (m, p) in zip(l.markers, l.labels) where p.needsLeader {
            let (tx, ty) = (min(max(m.x, p.box.x), p.box.maxX), min(max(m.y, p.box.y), p.box.maxY))
            o.append("<line class=\"leader\" x1=\"\(f1(m.x))\" y1=\"\(f1(m.y))\" x2=\"\(f1(tx))\" y2=\"\(f1(ty))\" stroke=\"#999999\" stroke-width=\"0.8\"/>")
        }
        // Points on the front last, so a dominated point never hides one.
        for m in l.markers.sorted(by: { !$0.onFront && $1.onFront }) { o.append(Self.marker(m.series, x: m.x, y: m.y, filled: m.onFront, extra: " class=\"point\"")) }
        for (m, p) in zip(l.markers, l.labels) {
            let text = series[m.series].points[m.index].label
            let colour = series.count > 1 ? Self.textColours[m.series % Self.textColours.count] : "#1a1a1a"
            o.append("<text class=\"label\" x=\"\(f1(p.box.x + 2))\" y=\"\(f1(p.box.y + Self.fontSize * 0.95))\" fill=\"\(colour)\" stroke=\"#ffffff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\">\(Self.escape(text))</text>")
        }

        let g = l.legend
        o.append("<g class=\"legend\">")
        o.append("<rect x=\"\(f1(g.x))\" y=\"\(f1(g.y))\" width=\"\(f1(g.width))\" height=\"\(f1(g.height))\" rx=\"4\" fill=\"#ffffff\" fill-opacity=\"0.92\" stroke=\"#bbbbbb\"/>")
        var y = g.y + 18
        for (s, series) in series.enumerated() {
            o.append(Self.marker(s, x: g.x + 16, y: y - 4, filled: true))
            o.append("<text x=\"\(f1(g.x + 32))\" y=\"\(f1(y))\">\(Self.escape(series.name))</text>")
            y += 18
        }
        o.append("<line x1=\"\(f1(g.x + 6))\" y1=\"\(f1(y - 4))\" x2=\"\(f1(g.x + 26))\" y2=\"\(f1(y - 4))\" stroke=\"#555555\" stroke-width=\"1.6\" stroke-dasharray=\"6 4\"/>")
        o.append("<text x=\"\(f1(g.x + 32))\" y=\"\(f1(y))\">Pareto front</text>")
        y += 18
        o.append("<circle cx=\"\(f1(g.x + 16))\" cy=\"\(f1(y - 4))\" r=\"\(f1(Self.radius))\" fill=\"#ffffff\" stroke=\"#555555\" stroke-width=\"1.8\"/>")
        o.append("<text x=\"\(f1(g.x + 32))\" y=\"\(f1(y))\">dominated</text>")
        o.append("</g>")
        o.append("</svg>")
        return o.joined(separator: "\n") + "\n"
    }

    /// Writes the SVG atomically (a temporary file renamed over `target`).
    package func write(to target: OutputTarget) throws {
        let out = try AtomicOutputFile(target: target)
        try Array(svg().utf8).withUnsafeBytes { try out.write($0) }
        try out.commit()
    }
}

/// A coordinate as SVG text: one decimal is finer than a pixel.
private func f1(_ v: Double) -> String { String(format: "%.1f", v) }

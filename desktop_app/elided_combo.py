"""A combo box for long entries: the closed box shows the current text elided ("…") to its width, where QComboBox
would clip it mid-word; the popup list is as wide as its widest entry; the tooltip holds the full current text."""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QPaintEvent
from PySide6.QtWidgets import (QComboBox, QStyle, QStyleOptionComboBox, QStyleOptionViewItem, QStylePainter,
                               QWidget)

LABEL_MARGIN = 2    # the styles draw the label 1 px in from each side of the edit field


class ElidedComboBox(QComboBox):
    """`about` is what the box is for; the tooltip shows it under the full current text."""

    def __init__(self, parent: QWidget | None = None, about: str = ""):
        super().__init__(parent)
        self._about = about
        # Its width comes from the layout, not from its longest entry: that one would widen the whole panel.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        # The model's signals too: a refresh fills the list with the combo's own signals blocked.
        for signal in (self.currentIndexChanged, self.model().rowsInserted, self.model().rowsRemoved,
                       self.model().dataChanged, self.model().modelReset):
            signal.connect(self._update_tooltip)
        self._update_tooltip()

    def set_about(self, about: str) -> None:
        self._about = about
        self._update_tooltip()

    def displayed_text(self) -> str:
        """The current text as the closed box paints it: elided at the right when it is wider than the label."""
        option = self._style_option()
        return self.fontMetrics().elidedText(option.currentText, Qt.TextElideMode.ElideRight,
                                             self._label_width(option))

    def popup_width(self) -> int:
        """Wide enough for the widest entry (with the item margins and a scroll bar when one shows)."""
        view = self.view()   # asked through its delegate: a hidden view's sizeHintForColumn says -1
        widest = max((self._item_width(row) for row in range(self.count())), default=0)
        width = widest + 2 * view.frameWidth()
        if self.count() > self.maxVisibleItems():
            width += self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent, None, view)
        return max(width, self.width())

    def _item_width(self, row: int) -> int:
        """The delegate's width for an entry; a menu-style delegate adds its margins to the rect given as content."""
        view = self.view()
        option = QStyleOptionViewItem()
        option.initFrom(view)
        icon = self.iconSize().width() + 4 if not self.itemIcon(row).isNull() else 0
        option.rect = QRect(0, 0, view.fontMetrics().horizontalAdvance(self.itemText(row)) + icon,
                            view.fontMetrics().height())
        return view.itemDelegate().sizeHint(option, self.model().index(row, self.modelColumn())).width()

    def showPopup(self) -> None:
        self.view().setMinimumWidth(self.popup_width())
        super().showPopup()

    def paintEvent(self, event: QPaintEvent) -> None:
        """QComboBox's own painting, with the elided text in place of the full one."""
        if self.isEditable():   # the line edit draws the text
            super().paintEvent(event)
            return
        painter = QStylePainter(self)
        painter.setPen(self.palette().color(self.palette().ColorRole.Text))
        option = self._style_option()
        painter.drawComplexControl(QStyle.ComplexControl.CC_ComboBox, option)
        if self.currentIndex() < 0 and self.placeholderText():
            option.palette.setBrush(option.palette.ColorRole.ButtonText, option.palette.placeholderText())
            option.currentText = self.placeholderText()
        option.currentText = self.fontMetrics().elidedText(option.currentText, Qt.TextElideMode.ElideRight,
                                                           self._label_width(option))
        painter.drawControl(QStyle.ControlElement.CE_ComboBoxLabel, option)

    def _style_option(self) -> QStyleOptionComboBox:
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        return option

    def _label_width(self, option: QStyleOptionComboBox) -> int:
        field = self.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                            QStyle.SubControl.SC_ComboBoxEditField, self)
        icon = option.iconSize.width() + 4 if not option.currentIcon.isNull() else 0
        return max(0, field.width() - icon - LABEL_MARGIN)

    def _update_tooltip(self, *_changed: object) -> None:
        self.setToolTip("\n".join(part for part in (self.currentText(), self._about) if part))
